"""Fast style models shipped with stylize, installed as the package data of `stylize.pretrained_models`."""
