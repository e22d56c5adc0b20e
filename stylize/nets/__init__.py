"""Network architectures: torch-only modules, one file each. Attribute names are the on-disk format.

Every architecture class declares what model files and tiling need to know about it:
  architecture       its name in model files (the table in modelfile.py maps it back to the class)
  ARGUMENT_LIMITS    {constructor argument: (min, max)}, checked before anything is built from a file
  ARGUMENT_DEFAULTS  (optional) {argument added later: its value for files written before it existed}
  arguments()        the constructor arguments, stored in model files
  scale              output side / input side, exact for every input size
  size_multiple      the stride grid: tile origins on multiples of it give the same result as one pass
  receptive_radius() how far (input pixels) an output pixel's value can depend on the input
"""
