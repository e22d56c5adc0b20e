// The studio page: plain JavaScript against the server's small JSON API (stylize/serve/app.py).
"use strict";

const $ = (selector) => document.querySelector(selector);
const state = {
  tab: "style", photos: [], photo: null, painting: null, reference: null, mask: null, models: [], job: null,
  previewTimer: null, pollTimer: null, lastJobs: [],
};

async function api(path, options = {}) {
  const response = await fetch(path, { credentials: "same-origin", ...options });
  const type = response.headers.get("content-type") || "";
  const body = type.includes("json") ? await response.json() : null;
  if (!response.ok) throw new Error((body && body.error) || `${response.status} ${response.statusText}`);
  return body;
}

function say(message) {
  const box = $("#message");
  box.textContent = message || "";
  box.hidden = !message;
}

async function upload(file) {
  return api(`/api/uploads?name=${encodeURIComponent(file.name)}`, { method: "POST", body: file });
}

// Inputs --------------------------------------------------------------------------------------------------

async function addPhotos(files) {
  for (const file of files) {
    try {
      let photo = await upload(file);
      if (photo.video) {
        // A video is previewed by its first frame (an image upload of its own); "Whole clip" paints it all.
        photo = { ...photo, videoId: photo.id, id: photo.frame, url: `/api/uploads/${photo.frame}/image` };
      } else {
        // A TIFF or a HEIC no browser shows: the server's JPEG of it.
        photo.url = photo.shown ? `/api/uploads/${photo.id}/image` : URL.createObjectURL(file);
      }
      state.photos.push(photo);
      choosePhoto(photo);
      say("");
    } catch (error) {
      say(error.message);
    }
  }
  drawPhotos();
}

function drawPhotos() {
  const strip = $("#photos");
  strip.replaceChildren(...state.photos.map((photo) => {
    const image = document.createElement("img");
    image.src = photo.url;
    image.alt = photo.name;
    image.title = `${photo.name} (${photo.width}x${photo.height})`;
    image.className = photo === state.photo ? "current" : "";
    image.onclick = () => { choosePhoto(photo); drawPhotos(); };
    return image;
  }));
}

function choosePhoto(photo) {
  stopCamera();  // the photo is shown, not the camera
  state.photo = photo;
  $("#video-run").hidden = !photo.videoId;
  // A clip is enlarged or colorized whole: the buttons say so.
  $("#upscale-run").textContent = photo.videoId ? "Upscale the clip" : "Upscale";
  $("#colorize-run").textContent = photo.videoId ? "Colorize the clip" : "Colorize";
  $("#upscale-frame").hidden = $("#colorize-frame").hidden = !photo.videoId;  // a look before the whole clip
  $("#result-video").hidden = true;
  $("#before").src = photo.url;
  $("#result-img").removeAttribute("src");
  $("#compare").hidden = false;
  $("#empty").hidden = true;
  $("#result-actions").hidden = true;
  updateOutputs();  // a clip's first frame has no refinement slider (its frames are one pass)
  clearHints();  // points belong to the photo they were placed on
  schedulePreview();
}

async function setInput(kind, file) {
  try {
    let image = await upload(file);
    const thumb = $(`#${kind}-thumb`);
    if (image.video && kind === "mask") {
      // A video of masks (a matte): its first frame masks previews and pictures, the whole matte a whole clip.
      image = { ...image, videoId: image.id, id: image.frame };
      $(`#${kind}-label`).textContent = `${image.name} (a video of masks, ${image.frames || "?"} frames)`;
      thumb.src = `/api/uploads/${image.frame}/image`;
    } else {
      $(`#${kind}-label`).textContent = `${image.name} (${image.width}x${image.height})`;
      thumb.src = image.shown ? `/api/uploads/${image.id}/image` : URL.createObjectURL(file);
    }
    state[kind] = image;
    thumb.hidden = false;
    say("");
    if (kind === "reference") updateOutputs();  // no choice of automatic network once there is a reference
    if (kind === "painting" || kind === "mask" || kind === "reference") schedulePreview();
  } catch (error) {
    say(error.message);
  }
}

function wireDrop(zone, input, onFiles) {
  input.addEventListener("change", () => onFiles([...input.files]));
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    onFiles([...event.dataTransfer.files]);
  });
}

// What to make --------------------------------------------------------------------------------------------

function styleRecipe(preview) {
  const choice = $("#model").value;
  const settings = { preserve_color: $("#preserve_color").checked };
  const body = { kind: "style", photo: state.photo && state.photo.id, preview };
  if (choice === "optimize") {
    settings.style_weight = Number($("#style_weight").value);
    settings.size = preview ? Math.min(Number($("#size").value), 512) : Number($("#size").value);
  } else {
    body.model = choice;
    settings.strength = Number($("#strength").value);
    const workSize = Number($("#work_size").value);
    if (modelTask(choice) === "style" && workSize >= 64) {
      // A preview is the photo at 512 px at most: the strokes keep their size relative to the picture.
      const longest = state.photo ? Math.max(state.photo.width, state.photo.height) : 512;
      const shrink = preview ? Math.min(1, 512 / longest) : 1;
      settings.work_size = Math.max(64, Math.round(workSize * shrink));
    }
    // The preview is refined as the result will be (one pass alone looks another picture); a clip's frames
    // are one pass each, and so is the preview of its first frame.
    if (modelTask(choice) === "arbitrary") settings.refine = state.photo && state.photo.videoId ? 0 : Number($("#refine").value);
    settings.size = preview ? 0 : Number($("#size").value);
    if (!preview && $("#full-size").dataset.full === "1") settings.size = 0;
  }
  if (choice !== "optimize" && modelTask(choice) !== "arbitrary") delete body.style;
  else body.style = state.painting && state.painting.id;
  if (state.mask) {
    body.mask = state.mask.id;
    settings.feather = Number($("#feather").value);
    settings.mask_invert = $("#mask_invert").checked;
  }
  body.settings = settings;
  return body;
}

function modelTask(name) {
  const model = state.models.find((m) => m.name === name);
  return model ? model.task : null;
}

function colorizeRecipe(photo) {
  // The colour points go with the photo they were placed on (a clip's are refused by the server, in one line).
  return { ...colorizeFolderRecipe(), photo, hints: hints.points };
}

function colorizeFolderRecipe() {
  // The automatic network chosen, where there is a choice (else, and for "default", the server's default); a
  // reference takes the place of any network.
  const chosen = !state.reference && !$("#color-model-tools").hidden && $("#color_model").value;
  return {
    kind: "colorize", reference: state.reference && state.reference.id, model: chosen || null,
    settings: { strength: Number($("#color_strength").value) },
  };
}

function previewWanted() {
  if (!state.photo || camera.running) return false;  // the camera's frames are the preview
  // The colorizer previews a photo (a clip is colorized whole) as points are placed and the strength moves.
  if (state.tab === "colorize") return !state.photo.videoId;
  // The optimization waits for "Paint"; no model is chosen until the server's list has come.
  const choice = $("#model").value;
  if (state.tab !== "style" || !choice || choice === "optimize") return false;
  return modelTask(choice) !== "arbitrary" || Boolean(state.painting);
}

function previewRecipe() {
  return state.tab === "colorize" ? { ...colorizeRecipe(state.photo.id), preview: true } : styleRecipe(true);
}

function schedulePreview() {
  // A network answers in about a second even on a CPU: preview as the user moves a slider. Asked again when the
  // timer fires: by then the user may have gone to another tab and run a job there, which a preview must not hide.
  clearTimeout(state.previewTimer);
  if (!previewWanted()) return;
  state.previewTimer = setTimeout(() => { if (previewWanted()) submit(previewRecipe()); }, 350);
}

function describeEstimate(estimate) {
  const parts = [`${estimate.width}x${estimate.height} (${estimate.megapixels} MP)`];
  if (estimate.memory_gib != null) parts.push(`about ${estimate.memory_gib} GiB of the ${estimate.free_gib} GiB free`);
  parts.push(estimate.seconds != null ? `about ${Math.ceil(estimate.seconds)} s here` : "time known after a first job");
  return parts.join(", ");
}

async function worthIt(body) {
  // Before a large job: what it will need on this device, and a chance to change one's mind.
  try {
    const estimate = await api("/api/estimate", {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
    });
    $("#estimate").textContent = describeEstimate(estimate);
    if (!estimate.fits) say(`Too large for this device's memory at full size: it will be made smaller and enlarged.`);
    const large = estimate.megapixels > 8 || (estimate.seconds != null && estimate.seconds > 60);
    return !large || window.confirm(`This job: ${describeEstimate(estimate)}. Start it?`);
  } catch (error) {
    say(error.message);
    return false;
  }
}

async function submit(body) {
  if (!body.preview) stopCamera();  // a job's picture is shown, not the camera's
  if (!body.preview) clearTimeout(state.previewTimer);  // the job asked for is the one shown
  if (!body.photo && !body.folder) { say("Drop a photo first."); return; }
  if (state.job && ["queued", "running"].includes(state.job.state) && state.job.preview_only) {
    api(`/api/jobs/${state.job.id}/cancel`, { method: "POST" }).catch(() => {});
  }
  try {
    say("");
    state.job = await api("/api/jobs", {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
    });
    showJob(state.job);
    poll();
  } catch (error) {
    say(error.message);
  }
}

// Masks: dropped as a file, or painted with a brush over the photo -------------------------------------------

function overPicture(element) {
  // Over the picture itself, not its box: a panorama (or any photo on a narrow screen) is letterboxed in its box
  // (object-fit: contain within the box's least height), and a stroke there landed lower in the mask than drawn.
  const photo = $("#before");
  const shown = Math.min(photo.clientWidth / photo.naturalWidth, photo.clientHeight / photo.naturalHeight);
  const width = photo.naturalWidth * shown, height = photo.naturalHeight * shown;
  element.style.left = `${photo.offsetLeft + (photo.clientWidth - width) / 2}px`;
  element.style.top = `${photo.offsetTop + (photo.clientHeight - height) / 2}px`;
  element.style.width = `${width}px`;
  element.style.height = `${height}px`;
}

const brush = { painting: false, drawing: false, context: null };

function startBrush() {
  const canvas = $("#mask-canvas");
  if (!state.photo) { say("Drop a photo first."); return; }
  const scale = Math.min(1, 1024 / Math.max(state.photo.width, state.photo.height));
  if (!brush.context || canvas.dataset.photo !== state.photo.id) {
    canvas.width = Math.round(state.photo.width * scale);
    canvas.height = Math.round(state.photo.height * scale);
    canvas.dataset.photo = state.photo.id;
    brush.context = canvas.getContext("2d");
  }
  overPicture(canvas);
  canvas.hidden = false;
  $("#divider").hidden = true;
  brush.painting = true;
  $("#brush").textContent = "Use this mask";
}

async function finishBrush() {
  const canvas = $("#mask-canvas");
  brush.painting = false;
  canvas.hidden = true;
  $("#divider").hidden = false;
  $("#brush").textContent = "Paint a mask";
  const flat = document.createElement("canvas");  // white strokes on black: what --mask reads
  flat.width = canvas.width;
  flat.height = canvas.height;
  const context = flat.getContext("2d");
  context.fillStyle = "#000";
  context.fillRect(0, 0, flat.width, flat.height);
  context.drawImage(canvas, 0, 0);
  const blob = await new Promise((resolve) => flat.toBlob(resolve, "image/png"));
  await setInput("mask", new File([blob], "painted-mask.png", { type: "image/png" }));
}

function stroke(event) {
  if (!brush.drawing) return;
  const canvas = $("#mask-canvas");
  const box = canvas.getBoundingClientRect();
  const x = (event.clientX - box.left) * canvas.width / box.width;
  const y = (event.clientY - box.top) * canvas.height / box.height;
  const radius = Number($("#brush_size").value) * canvas.width / box.width / 2;
  brush.context.fillStyle = "#fff";
  brush.context.beginPath();
  brush.context.arc(x, y, radius, 0, 2 * Math.PI);
  brush.context.fill();
}

function clearMask() {
  state.mask = null;
  $("#mask-thumb").hidden = true;
  $("#mask-label").textContent = "Drop a mask (white where the style goes)";
  if (brush.context) brush.context.clearRect(0, 0, $("#mask-canvas").width, $("#mask-canvas").height);
  schedulePreview();
}

// Colour points: colours the user knows, clicked onto the photo for colorize (its --hint) ---------------------

const hints = { placing: false, points: [] };  // the current photo's points: x, y as fractions of it, a colour

function drawHints() {
  const layer = $("#hint-layer");
  layer.hidden = state.tab !== "colorize" || (!hints.placing && hints.points.length === 0) || !$("#before").naturalWidth;
  if (!layer.hidden) overPicture(layer);
  layer.classList.toggle("placing", hints.placing);
  layer.replaceChildren(...hints.points.map((point) => {
    const dot = document.createElement("span");
    dot.className = "hint-dot";
    dot.style.left = `${100 * point.x}%`;
    dot.style.top = `${100 * point.y}%`;
    dot.style.background = point.colour;
    dot.title = point.colour;
    return dot;
  }));
  const count = hints.points.length;
  $("#hint-count").textContent = count ? `(${count} point${count > 1 ? "s" : ""})` : "";
  $("#hint-place").textContent = hints.placing ? "Done" : "Place points";
  $("#divider").hidden = hints.placing || brush.painting;
}

function placeHint(event) {
  if (!hints.placing) return;
  const box = $("#hint-layer").getBoundingClientRect();
  const x = (event.clientX - box.left) / box.width, y = (event.clientY - box.top) / box.height;
  if (x < 0 || x > 1 || y < 0 || y > 1) return;
  // To a hundredth of a per cent: the command the result shows (--hint X%,Y%,COLOUR) then places it exactly there.
  hints.points.push({ x: Math.round(x * 1e4) / 1e4, y: Math.round(y * 1e4) / 1e4, colour: $("#hint_colour").value });
  drawHints();
  schedulePreview();  // the colours with the new point, a second or two later
}

function clearHints() {
  const had = hints.points.length > 0;
  hints.placing = false;
  hints.points = [];
  drawHints();
  if (had) schedulePreview();
}

// Camera: what the webcam sees, painted live by a style model or any painting's one pass (POST /api/live) -------

const camera = { stream: null, running: false, urls: [], rate: 0, devices: [] };
const CAMERA_SIDE = 640;  // the frames' longest side at most (a camera's 640x480; the Size slider may ask less)

function cameraRecipe() {
  // The style recipe without a photo (the frames are the photos): the model and its sliders, one pass a frame.
  const choice = $("#model").value;
  const body = { kind: "style", model: choice, settings: {
    strength: Number($("#strength").value), preserve_color: $("#preserve_color").checked, size: 0 } };
  if (modelTask(choice) === "arbitrary") {
    body.style = state.painting && state.painting.id;
    body.settings.refine = 0;
  }
  return body;
}

function grabFrame(longest) {
  // The camera's picture now, its longest side at most `longest` (the whole picture for "Keep this frame").
  const video = $("#camera-video");
  const scale = Math.min(1, longest / Math.max(video.videoWidth, video.videoHeight));
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(video.videoWidth * scale);
  canvas.height = Math.round(video.videoHeight * scale);
  const context = canvas.getContext("2d");
  if ($("#camera-mirror").checked) context.setTransform(-1, 0, 0, 1, canvas.width, 0);  // what is painted is what is seen
  context.drawImage(video, 0, 0, canvas.width, canvas.height);
  return canvas;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const asBlob = (canvas, quality) => new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", quality));

async function openCamera(deviceId) {
  // The browser's default camera, or the one asked for; 1280x720 where it has it ("Keep this frame" keeps it all).
  // A camera that says it faces the user (a phone's front one) is mirrored, as its own app shows it, one that faces
  // away is not; a computer's webcam mostly says neither, and keeps the user's choice.
  const video = { width: { ideal: 1280 }, height: { ideal: 720 } };
  if (deviceId) video.deviceId = { exact: deviceId };
  const stream = await navigator.mediaDevices.getUserMedia({ video, audio: false });
  const facing = stream.getVideoTracks()[0].getSettings().facingMode;
  if (facing === "user" || facing === "environment") $("#camera-mirror").checked = facing === "user";
  return stream;
}

async function startCamera() {
  const choice = $("#model").value;
  if (!choice || choice === "optimize") {
    say("The camera paints with a style model or any painting: choose one in “Style with” (the optimization takes too long a frame).");
    return;
  }
  if (modelTask(choice) === "arbitrary" && !state.painting) { say("Drop a painting first: the camera is painted in its style."); return; }
  if (!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia)) {
    // Browsers give a page the camera only in a secure context: HTTPS, or this computer's own address.
    say("This browser gives the page no camera at this address: open the studio at http://127.0.0.1 (or localhost) on the computer it runs on, or over HTTPS (stylize serve --certfile FILE --keyfile FILE).");
    return;
  }
  $("#camera").disabled = true;  // while the browser asks for the camera: a second click opens no second one
  try {
    camera.stream = await openCamera();
  } catch (error) {
    say(`No camera: ${error.message || error.name}`);
    return;
  } finally {
    $("#camera").disabled = false;
  }
  const video = $("#camera-video");
  video.srcObject = camera.stream;
  await video.play();
  clearTimeout(state.previewTimer);
  if (state.job && ["queued", "running"].includes(state.job.state) && state.job.preview_only) {
    api(`/api/jobs/${state.job.id}/cancel`, { method: "POST" }).catch(() => {});
  }
  camera.running = true;
  camera.rate = 0;
  say("");
  $("#compare").hidden = false;
  $("#empty").hidden = true;
  $("#result-actions").hidden = true;
  $("#result-video").hidden = true;
  $("#camera").textContent = "Stop camera";
  $("#camera-tools").hidden = false;
  paintFrames();
  // The cameras are listed once one is open (before, a browser may hide them); a phone has a back and a front one.
  camera.devices = (await navigator.mediaDevices.enumerateDevices()).filter((device) => device.kind === "videoinput");
  $("#camera-switch").hidden = camera.devices.length < 2;
}

async function switchCamera() {
  // The next camera of the list; the frames go on from it, the model and the sliders as they are.
  if (!camera.running || camera.devices.length < 2) return;
  const current = camera.stream.getVideoTracks()[0].getSettings().deviceId;
  const next = camera.devices[(camera.devices.findIndex((device) => device.deviceId === current) + 1) % camera.devices.length];
  $("#camera-switch").disabled = true;
  try {
    const stream = await openCamera(next.deviceId);
    if (!camera.running) { stream.getTracks().forEach((track) => track.stop()); return; }  // stopped meanwhile
    camera.stream.getTracks().forEach((track) => track.stop());
    camera.stream = stream;
    $("#camera-video").srcObject = stream;
    await $("#camera-video").play();
  } catch (error) {
    say(`That camera did not open: ${error.message || error.name}`);
  } finally {
    $("#camera-switch").disabled = false;
  }
}

function stopCamera() {
  if (!camera.stream) return;
  camera.running = false;
  camera.stream.getTracks().forEach((track) => track.stop());
  camera.stream = null;
  $("#camera-video").srcObject = null;
  $("#camera").textContent = "Camera";
  $("#camera-tools").hidden = true;
  $("#camera-status").textContent = "";
  // Back to the photo the buttons paint (or to the empty page): the last frame is not a photo of the page's.
  $("#result-img").removeAttribute("src");
  if (state.photo) $("#before").src = state.photo.url;
  else { $("#compare").hidden = true; $("#empty").hidden = false; }
  camera.urls.forEach((url) => URL.revokeObjectURL(url));
  camera.urls = [];
  schedulePreview();
}

async function paintFrames() {
  // One frame at a time: the next is sent when this one is back, so a slow device shows fewer frames, never a
  // backlog; the sliders and the model apply from the next frame.
  let last = performance.now();
  while (camera.running) {
    if (!$("#camera-video").videoWidth) { await sleep(100); continue; }
    const canvas = grabFrame(Math.min(CAMERA_SIDE, Number($("#size").value)));
    const frame = await asBlob(canvas, 0.85);
    let response;
    try {
      response = await fetch(`/api/live?recipe=${encodeURIComponent(JSON.stringify(cameraRecipe()))}`,
        { method: "POST", body: frame, credentials: "same-origin" });
    } catch (error) {
      say(error.message);
      stopCamera();
      return;
    }
    if (!camera.running) return;
    if (!response.ok) {
      const body = await response.json().catch(() => null);
      const message = (body && body.error) || `${response.status} ${response.statusText}`;
      if (response.status === 503) { $("#camera-status").textContent = message; await sleep(1000); continue; }
      say(message);
      stopCamera();
      return;
    }
    const painted = await response.blob();
    if (!camera.running) return;
    const urls = [URL.createObjectURL(frame), URL.createObjectURL(painted)];
    $("#before").src = urls[0];
    $("#result-img").src = urls[1];
    camera.urls.forEach((url) => URL.revokeObjectURL(url));
    camera.urls = urls;
    const now = performance.now();
    const rate = 1000 / (now - last);
    last = now;
    camera.rate = camera.rate ? 0.8 * camera.rate + 0.2 * rate : rate;
    $("#camera-status").textContent = `${camera.rate.toFixed(1)} frames a second at ${canvas.width}x${canvas.height}`;
  }
}

async function keepFrame() {
  // The camera's whole picture (not the frame sent, which is smaller) as a photo: "Full size" paints it.
  if (!camera.running) return;
  const blob = await asBlob(grabFrame(Infinity), 0.92);
  const stamp = new Date().toISOString().slice(0, 19).replace(/[-:]/g, "").replace("T", "-");
  stopCamera();
  await addPhotos([new File([blob], `camera-${stamp}.jpg`, { type: "image/jpeg" })]);
}

// Progress ------------------------------------------------------------------------------------------------

function formatSeconds(seconds) {
  if (seconds == null) return "";
  return seconds < 60 ? `${Math.ceil(seconds)} s left` : `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s left`;
}

let shownPreview = null;  // the job and version of the picture shown: each job counts its versions from 1
function showJob(job) {
  const running = job.state === "queued" || job.state === "running";
  $("#status").hidden = !running;
  const progress = $("#progress");
  if (job.total > 0) { progress.max = job.total; progress.value = job.done; } else { progress.removeAttribute("value"); }
  $("#stage").textContent = job.state === "queued" ? `waiting: number ${job.position} in the queue` : (job.stage || "working");
  $("#eta").textContent = formatSeconds(job.eta);
  if (job.preview_version != null && `${job.id}:${job.preview_version}` !== shownPreview) {
    shownPreview = `${job.id}:${job.preview_version}`;
    $("#result-img").src = `/api/jobs/${job.id}/preview?v=${job.preview_version}`;
  }
  if (job.state === "failed" || (job.files && job.message)) say(job.message);
  // The job's notes (an HDR clip brought to SDR, a colour photo's colours not used, a smaller working size), as the
  // command line prints them.
  const notes = job.notices || [];
  $("#notes").textContent = notes.map((note) => `Note: ${note}`).join("\n");
  $("#notes").hidden = notes.length === 0;
  if (job.state === "done" && job.files) {
    say("");
    $("#stage").textContent = "";
    $("#command").textContent = job.command;
    $("#result-actions").hidden = false;
    $("#download").hidden = true;
    loadResults();
  } else if (job.state === "done" && job.result && job.result.endsWith(".mp4")) {
    $("#result-video").src = `/results/${encodeURIComponent(job.result)}`;
    $("#result-video").hidden = false;
    $("#download").href = `/results/${encodeURIComponent(job.result)}?download=1`;
    $("#download").hidden = false;
    $("#command").textContent = job.command;
    $("#result-actions").hidden = false;
    loadResults();
  } else if (job.state === "done" && job.result) {
    $("#download").hidden = false;
    $("#result-img").src = `/results/${encodeURIComponent(job.result)}`;
    $("#download").href = `/results/${encodeURIComponent(job.result)}?download=1`;
    $("#command").textContent = job.command;
    $("#result-actions").hidden = false;
    loadResults();
  }
  document.body.dataset.job = job.state;
}

async function poll() {
  clearTimeout(state.pollTimer);
  try {
    const jobs = await api("/api/jobs");
    state.lastJobs = jobs;
    if (state.job) {
      const fresh = jobs.find((job) => job.id === state.job.id);
      if (fresh) { state.job = fresh; showJob(fresh); }
    }
  } catch (error) {
    say(error.message);
  }
  const busy = state.job && ["queued", "running"].includes(state.job.state);
  // Polling is also how the server knows this tab is still open: a closed tab's jobs are cancelled.
  state.pollTimer = setTimeout(poll, busy ? 300 : 5000);
}

// Results -------------------------------------------------------------------------------------------------

function card(imageUrl, title, lines) {
  const box = document.createElement("div");
  box.className = "card";
  const video = imageUrl.split("?")[0].endsWith(".mp4");
  const image = document.createElement(video ? "video" : "img");
  image.src = imageUrl;
  if (video) image.controls = true; else image.alt = title;
  const caption = document.createElement("div");
  caption.textContent = title;
  box.append(image, caption);
  for (const line of lines) {
    const detail = document.createElement("div");
    detail.className = "quiet";
    detail.textContent = line;
    box.append(detail);
  }
  return box;
}

async function loadResults() {
  try {
    const results = await api("/api/results");
    $("#result-count").textContent = results.length ? `(${results.length})` : "";
    $("#result-list").replaceChildren(...results.map((entry) => {
      const url = `/results/${encodeURIComponent(entry.name)}`;
      const settings = Object.entries(entry.settings).filter(([, v]) => v !== null && v !== "")
        .map(([k, v]) => `${k} ${v}`).join(", ");
      const box = card(url, entry.name, [`${entry.width}x${entry.height}, ${entry.seconds} s`, settings]);
      const actions = document.createElement("div");
      actions.className = "buttons";
      const download = document.createElement("a");
      download.href = `${url}?download=1`;
      download.textContent = "Download";
      const copy = document.createElement("button");
      copy.textContent = "Copy command";
      copy.title = entry.command;
      copy.onclick = () => navigator.clipboard && navigator.clipboard.writeText(entry.command);
      const redo = document.createElement("button");
      redo.textContent = "Tweak";
      redo.onclick = () => tweak(entry);
      actions.append(download, copy, redo);
      box.append(actions);
      return box;
    }));
  } catch (error) {
    say(error.message);
  }
}

function tweak(entry) {
  // The settings of an earlier result back on the sliders (its photo and painting must be on the page).
  const settings = entry.settings;
  if (entry.kind === "style") {
    $("#model").value = settings.mode === "optimize" ? "optimize" : settings.model;
    for (const name of ["strength", "style_weight", "size", "refine"]) {
      // 0 is "the photo's size" for the size, and a setting of its own for the refinement.
      if (settings[name] != null && (settings[name] !== 0 || name === "refine")) $(`#${name}`).value = settings[name];
    }
    $("#preserve_color").checked = Boolean(settings.preserve_color);
  }
  if (entry.kind === "colorize") {
    if (settings.strength != null) $("#color_strength").value = settings.strength;
    if (!settings.model || state.models.some((m) => m.name === settings.model)) $("#color_model").value = settings.model || "";
    // Its colour points, where its photo is the one on the page ("X%,Y%,#RRGGBB", as --hint takes them).
    const same = state.photo && entry.inputs && entry.inputs.photo === state.photo.name;
    hints.placing = false;
    hints.points = same ? (settings.hints || []).map((text) => {
      const [x, y, colour] = text.split(",");
      return { x: Math.round(parseFloat(x) * 100) / 1e4, y: Math.round(parseFloat(y) * 100) / 1e4, colour };
    }) : [];
  }
  showTab(entry.kind);
  updateOutputs();
}

// Page ----------------------------------------------------------------------------------------------------

function showTab(tab) {
  state.tab = tab;
  document.querySelectorAll("nav button").forEach((b) => b.setAttribute("aria-selected", String(b.dataset.tab === tab)));
  document.querySelectorAll("[data-panel]").forEach((panel) => { panel.hidden = panel.dataset.panel !== tab; });
  $("#inputs").hidden = tab === "results";
  $("#view").hidden = tab === "results";
  if (tab !== "colorize") hints.placing = false;
  if (tab !== "style") stopCamera();
  drawHints();
  schedulePreview();  // the colorize tab shows its photo's colours at once, as a style model does
  if (tab === "results") loadResults();
}

function updateOutputs() {
  document.querySelectorAll(".slider").forEach((slider) => {
    const input = slider.querySelector("input");
    slider.querySelector("output").textContent = input.value;
  });
  const choice = $("#model").value;
  const network = choice !== "optimize";
  document.querySelector('[data-for="strength"]').hidden = !network;
  document.querySelector('[data-for="style_weight"]').hidden = network;
  document.querySelector('[data-for="work_size"]').hidden = modelTask(choice) !== "style";
  document.querySelector('[data-for="refine"]').hidden = modelTask(choice) !== "arbitrary" || Boolean(state.photo && state.photo.videoId);
  $("#painting-drop").hidden = network && modelTask(choice) !== "arbitrary";
  $("#run").textContent = network ? "Preview" : "Paint";
  $("#color-model-tools").hidden = $("#color_model").options.length < 3 || Boolean(state.reference);
}

async function start() {
  document.querySelectorAll("nav button").forEach((b) => { b.onclick = () => showTab(b.dataset.tab); });
  wireDrop($("#photo-drop"), $("#photo-input"), addPhotos);
  wireDrop($("#painting-drop"), $("#painting-input"), (files) => files[0] && setInput("painting", files[0]));
  wireDrop($("#reference-drop"), $("#reference-input"), (files) => files[0] && setInput("reference", files[0]));
  wireDrop($("#mask-drop"), $("#mask-input"), (files) => files[0] && setInput("mask", files[0]));
  $("#brush").onclick = () => (brush.painting ? finishBrush() : startBrush());
  $("#mask-clear").onclick = clearMask;
  const canvas = $("#mask-canvas");
  canvas.addEventListener("pointerdown", (event) => { brush.drawing = true; canvas.setPointerCapture(event.pointerId); stroke(event); });
  canvas.addEventListener("pointermove", stroke);
  canvas.addEventListener("pointerup", () => { brush.drawing = false; });
  document.querySelectorAll("input[type=range], input[type=checkbox], select").forEach((input) => {
    input.addEventListener("input", () => { updateOutputs(); if (!["divider", "brush_size"].includes(input.id)) schedulePreview(); });
  });
  $("#model").addEventListener("input", () => {
    if ($("#model").value === "optimize") stopCamera();  // the camera goes on with any other model
  });
  $("#divider").addEventListener("input", () => {
    $("#result-img").style.clipPath = `inset(0 ${100 - Number($("#divider").value)}% 0 0)`;
  });
  $("#run").onclick = () => {
    stopCamera();  // the photo's picture is asked for, not the camera's
    clearTimeout(state.previewTimer);
    submit(styleRecipe($("#model").value !== "optimize"));
  };
  $("#full-size").onclick = async () => {
    const body = styleRecipe(false);
    body.settings.size = 0;
    if (body.model === undefined) body.settings.size = Number($("#size").value);
    if (await worthIt(body)) submit(body);
  };
  $("#video-run").onclick = () => {
    const body = styleRecipe(false);
    body.kind = "video";
    body.photo = state.photo.videoId;
    if (state.mask && state.mask.videoId) body.mask = state.mask.videoId;  // the matte, frame by frame
    body.settings.size = 0;  // the clip's own size
    delete body.settings.refine;  // frames are one pass (stylize video has no --refine)
    if (body.model === undefined) { say("A clip is painted with a style model or any painting, not the optimization."); return; }
    submit(body);
  };
  // A dropped clip is enlarged or colorized whole, into a video (its first frame previews the style tab).
  const photoOrClip = () => state.photo && (state.photo.videoId || state.photo.id);
  // The network for JPEG and noisy photos has no crisp twin: its sharpness is 0 (the slider is off for it).
  const upscaleSettings = () => ({
    scale: Number($("#scale").value), degradation: $("#degradation").value, ensemble: $("#ensemble").checked,
    sharpness: $("#degradation").value === "real" ? 0 : Number($("#sharpness").value),
  });
  const upscaleRecipe = (photo) => ({ kind: "upscale", photo, settings: upscaleSettings() });
  $("#degradation").onchange = () => { $("#sharpness").disabled = $("#degradation").value === "real"; };
  $("#degradation").onchange();  // a browser may restore the choice on reload
  $("#hint-place").onclick = () => {
    if (!state.photo) { say("Drop a photo first."); return; }
    hints.placing = !hints.placing;
    drawHints();
  };
  $("#hint-clear").onclick = clearHints;
  // The swatches take their colours from their data (a style attribute would break the Content-Security-Policy).
  const swatches = [...document.querySelectorAll("#swatches button")];
  const showChosen = () => swatches.forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.colour === $("#hint_colour").value)));
  for (const swatch of swatches) {
    swatch.style.background = swatch.dataset.colour;
    swatch.setAttribute("aria-label", swatch.title);
    swatch.onclick = () => { $("#hint_colour").value = swatch.dataset.colour; showChosen(); };
  }
  $("#hint_colour").addEventListener("input", showChosen);
  showChosen();
  $("#hint-layer").addEventListener("click", placeHint);
  $("#before").addEventListener("load", drawHints);  // the dots over the picture as it is now shown
  window.addEventListener("resize", drawHints);
  $("#upscale-run").onclick = () => submit(upscaleRecipe(photoOrClip()));
  $("#colorize-run").onclick = () => submit(colorizeRecipe(photoOrClip()));
  // The clip's first frame (an image upload of its own) as a picture.
  $("#upscale-frame").onclick = () => submit(upscaleRecipe(state.photo && state.photo.id));
  $("#colorize-frame").onclick = () => submit(colorizeRecipe(state.photo && state.photo.id));
  $("#folder-run").onclick = () => {
    const recipes = {
      style: () => styleRecipe(false),
      upscale: () => ({ kind: "upscale", settings: upscaleSettings() }),
      colorize: colorizeFolderRecipe,
    };
    const body = (recipes[state.tab] || recipes.style)();
    delete body.photo;
    delete body.mask;
    if (body.settings) { delete body.feather; delete body.settings.feather; delete body.settings.mask_invert; }
    body.folder = $("#folder").value;
    submit(body);
  };
  $("#cancel").onclick = () => state.job && api(`/api/jobs/${state.job.id}/cancel`, { method: "POST" })
    .then(showJob).catch((error) => say(error.message));
  $("#pin").onclick = () => {
    const label = $("#model").selectedOptions[0] ? $("#model").selectedOptions[0].textContent : state.tab;
    $("#grid").append(card($("#result-img").src, label, [$("#command").textContent]));
  };
  $("#copy").onclick = () => navigator.clipboard && navigator.clipboard.writeText($("#command").textContent);
  // Closing the tab cancels its jobs at once (and the server's heartbeat catches a tab that just vanished).
  window.addEventListener("pagehide", () => { stopCamera(); navigator.sendBeacon("/api/cancel-all"); });
  // A tab out of sight keeps no camera (its light stays on) and no device busy with frames nobody sees.
  document.addEventListener("visibilitychange", () => { if (document.hidden) stopCamera(); });
  $("#camera").onclick = () => (camera.running ? stopCamera() : startCamera());
  $("#camera-keep").onclick = keepFrame;
  $("#camera-switch").onclick = switchCamera;

  try {
    const info = await api("/api/info");
    $("#device").textContent = `stylize ${info.version} on ${info.device}`;
    $("#output-dir").textContent = info.output_dir;
    state.models = info.models;
    const select = $("#model");
    const options = [["optimize", "Optimization: your painting (slow, best)"]];
    for (const model of info.models) {
      if (model.task === "arbitrary") options.splice(0, 0, [model.name, "Any painting (drop a painting)"]);
      else if (model.task === "style") options.push([model.name, `${model.name}: ${model.summary}`]);
    }
    select.replaceChildren(...options.map(([value, text]) => new Option(text, value)));
    // The automatic colorizers (colorize-auto, colorize-portrait, any trained ones), each alone, after the default
    // (the server's: colorize-auto with colorize-portrait's skin): a choice where there are two.
    const colorizers = info.models.filter((model) => model.task === "colorize");
    const blended = ["colorize-auto", "colorize-portrait"].every((name) => colorizers.some((model) => model.name === name));
    $("#color_model").replaceChildren(new Option(`default: colorize-auto${blended ? ", faces from colorize-portrait" : ""}`, ""),
      ...colorizers.map((model) => new Option(`${model.name} alone: ${model.summary}`, model.name)));
    updateOutputs();  // shows the choice where there are two
    schedulePreview();  // a photo dropped before the list came
  } catch (error) {
    say(error.message);
  }
  try {
    const folders = await api("/api/folders");
    $("#folder").replaceChildren(...folders.map((name) => new Option(name === "." ? "(the --root folder)" : name, name)));
    $("#folder-tools").hidden = folders.length === 0;
  } catch (error) {
    say(error.message);
  }
  updateOutputs();
  loadResults();
  poll();
}

start();
