// The page: a thin layer that draws. The server answers (POST /api/v1/predict), or this device
// does (ondevice/pipeline.js, LiteRT.js in the page: the photo is never sent anywhere). A photo in
// which no face is found says so, either way: the model's guess on its centre is one small line,
// called a guess, never the answer.
const LABELS = { glass: "Glasses", no_glass: "No glasses", no_face: "No face found" };
const COLOURS = { glass: "#22c55e", no_glass: "#f97316" };
const KINDS = { clear: "clear glasses", dark: "sunglasses" };  // a model that says which glasses
const MAX_WIDTH = 640;  // the photo is drawn at most this wide
const $ = (id) => document.getElementById(id);
const input = $("file"), drop = $("drop"), statusLine = $("status"), answer = $("answer"), by = $("answered-by");
const canvas = $("photo"), faceList = $("faces"), history = $("history"), webcam = $("webcam"), video = $("camera");
let device = null;  // the on-device pipeline, loaded once when first asked for
let live = false;

const mode = () => document.querySelector("input[name=mode]:checked").value;

function setStatus(text, isError = false) {
  statusLine.textContent = text;
  statusLine.classList.toggle("error", isError);
}

function clear() {
  answer.textContent = "";
  answer.dataset.answer = "";
  by.textContent = "";
  by.dataset.by = "";
  faceList.replaceChildren();
  canvas.hidden = true;
}

async function onDevice() {
  if (!device) {
    setStatus("Loading the models into this page…");
    device = import("/static/ondevice/pipeline.js").then((m) => m.loadPipeline()).catch((err) => {
      device = null;
      throw err;
    });
  }
  return device;
}

async function classifyAll(files) {
  for (const file of files) await classify(file);
}

async function classify(file) {
  if (!file) return;
  clear();
  setStatus(`Looking at ${file.name}…`);
  try {
    const shown = mode() === "device" ? await classifyHere(file) : await classifyOnServer(file);
    if (!shown) return;
    showAnswer(shown);
    remember(file.name, shown);
    await drawPhoto(file, shown);
  } catch (err) {
    setStatus(err.message, true);
  }
}

async function classifyOnServer(file) {
  const form = new FormData();
  form.append("image", file, file.name);
  let response, body;
  try {
    response = await fetch("/api/v1/predict", { method: "POST", body: form });
    body = await response.json();
  } catch (err) {
    throw new Error(`No answer from the server (${err.message})`);
  }
  if (!response.ok) throw new Error(body.error ? body.error.message : `HTTP ${response.status}`);
  return { ...body, by: "server", byText: `Answered by the server (model ${body.model_version}, ${body.time_ms} ms)` };
}

async function classifyHere(source, name = source.name) {
  const pipeline = await onDevice();
  const started = performance.now();
  const result = asAnswered(await pipeline.analyse(source));
  const ms = performance.now() - started;
  return { ...result, image_size: result.size, model_version: pipeline.config.version,
           by: "device", byText: `Answered on this device (LiteRT.js, WebAssembly; model ${pipeline.config.model_id}, ${ms.toFixed(0)} ms)` };
}

// The pipeline keeps the fallback crop among its faces (the crop contract, conformance/); the
// page answers as the server does: no face found is "no_face", the fallback's guess kept apart.
function asAnswered(result) {
  if (result.face_found) return { ...result, fallback: null };
  return { ...result, answer: "no_face", probability: null, kind: null, faces: [], fallback: result.faces[0] };
}

function showAnswer(body) {
  answer.textContent = (LABELS[body.answer] || body.answer) + (body.kind ? ` (${KINDS[body.kind] || body.kind})` : "");
  answer.dataset.answer = body.answer;
  by.textContent = body.byText;
  by.dataset.by = body.by;
  setStatus(body.face_found ? `${body.faces.length} face(s)` : "no face found");
  const items = body.faces.map((face, i) => item(face, `Face ${i + 1}: `));
  if (body.fallback) items.push(item(body.fallback, "A guess from the centre of the photo: ", "guess"));
  faceList.replaceChildren(...items);
}

function item(face, who, className = "") {
  const entry = document.createElement("li");
  if (face.crop) entry.append(cropCanvas(face.crop));
  const kind = face.kind ? `, ${KINDS[face.kind] || face.kind}: P(dark) ${face.dark_probability.toFixed(3)}` : "";
  entry.append(`${who}${LABELS[face.answer] || face.answer} (probability of glasses ${face.probability.toFixed(3)}${kind})`);
  if (className) entry.classList.add(className);
  return entry;
}

function cropCanvas(crop) {
  const small = document.createElement("canvas");
  small.width = crop.width;
  small.height = crop.height;
  const rgba = new ImageData(crop.width, crop.height);
  for (let i = 0, j = 0; j < crop.data.length; i += 4, j += 3) {
    rgba.data.set([crop.data[j], crop.data[j + 1], crop.data[j + 2], 255], i);
  }
  small.getContext("2d").putImageData(rgba, 0, 0);
  small.className = "crop";
  return small;
}

function remember(name, body) {
  const row = history.tBodies[0].insertRow();
  row.dataset.answer = body.answer;
  row.dataset.by = body.by;
  const probability = body.probability === null ? "–" : body.probability.toFixed(3);
  for (const text of [name, LABELS[body.answer] || body.answer, probability, body.kind || "–", body.by]) {
    row.insertCell().textContent = text;
  }
  history.hidden = false;
}

async function drawPhoto(file, body) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(file);  // EXIF orientation applied, as in the core
  } catch (err) {
    return;  // a format the browser cannot show (e.g. TIFF): the answer is still there
  }
  draw(bitmap, body);
}

function draw(picture, body) {
  const scale = Math.min(1, MAX_WIDTH / picture.width);
  canvas.width = Math.round(picture.width * scale);
  canvas.height = Math.round(picture.height * scale);
  const ctx = canvas.getContext("2d");
  ctx.drawImage(picture, 0, 0, canvas.width, canvas.height);
  const toCanvas = canvas.width / body.image_size[0];
  ctx.lineWidth = 3;
  ctx.font = "bold 16px system-ui, sans-serif";
  for (const [i, face] of body.faces.entries()) {
    if (!face.box) continue;
    const [x0, y0, x1, y1] = face.box.map((v) => v * toCanvas);
    ctx.strokeStyle = ctx.fillStyle = COLOURS[face.answer] || COLOURS.no_glass;
    ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
    ctx.fillText(String(i + 1), x0 + 4, Math.max(16, y0 - 4));
    for (const eye of [face.right_eye, face.left_eye].filter(Boolean)) {
      ctx.beginPath();
      ctx.arc(eye[0] * toCanvas, eye[1] * toCanvas, 3, 0, 2 * Math.PI);
      ctx.fill();
    }
  }
  canvas.hidden = false;
}

// The webcam, answered on this device frame after frame, as fast as the device allows.
async function startWebcam() {
  if (live) {
    live = false;
    return;
  }
  try {
    const [pipeline, stream] = await Promise.all([onDevice(), navigator.mediaDevices.getUserMedia({ video: true })]);
    video.srcObject = stream;
    await video.play();
    live = true;
    webcam.textContent = "Stop the webcam";
    const { pixelsOf, Photo } = await import("/static/ondevice/decode.js");
    let frames = 0;
    const started = performance.now();
    while (live) {
      const photo = new Photo(pixelsOf(video, video.videoWidth, video.videoHeight), "webcam");
      const result = asAnswered(await pipeline.analyse(photo));
      frames += 1;
      clear();
      showAnswer({ ...result, byText: "Answered on this device (webcam)", by: "device" });
      draw(video, { ...result, image_size: result.size });
      setStatus(`webcam: ${(frames / ((performance.now() - started) / 1000)).toFixed(1)} frames/s`);
      webcam.dataset.frames = String(frames);
      await new Promise(requestAnimationFrame);
    }
    stream.getTracks().forEach((track) => track.stop());
    webcam.textContent = "Use the webcam";
  } catch (err) {
    live = false;
    setStatus(`webcam: ${err.message}`, true);
  }
}

for (const radio of document.querySelectorAll("input[name=mode]")) {
  radio.addEventListener("change", () => {
    webcam.hidden = mode() !== "device";
    if (mode() === "device") onDevice().then(() => setStatus("Ready: answers are computed in this page"),
                                             (err) => setStatus(`The on-device models did not load: ${err.message}`, true));
  });
}
webcam.addEventListener("click", startWebcam);
input.addEventListener("change", () => {
  const files = [...input.files];
  input.value = "";  // choosing the same photos again is a new choice
  classifyAll(files);
});
drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  classifyAll([...event.dataTransfer.files]);
});
