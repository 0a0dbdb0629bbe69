// Upload a photo to /api/v1/predict, show the answer, and draw the face boxes on the photo.
"use strict";

const LABELS = { glass: "Glasses", no_glass: "No glasses" };
const MAX_WIDTH = 640;  // the photo is drawn at most this wide
const input = document.getElementById("file");
const drop = document.getElementById("drop");
const statusLine = document.getElementById("status");
const answer = document.getElementById("answer");
const canvas = document.getElementById("photo");
const faceList = document.getElementById("faces");

function setStatus(text, isError = false) {
  statusLine.textContent = text;
  statusLine.classList.toggle("error", isError);
}

function clear() {
  answer.textContent = "";
  answer.dataset.answer = "";
  faceList.replaceChildren();
  canvas.hidden = true;
}

async function classify(file) {
  if (!file) return;
  clear();
  setStatus(`Looking at ${file.name}…`);
  const form = new FormData();
  form.append("image", file, file.name);
  let response, body;
  try {
    response = await fetch("/api/v1/predict", { method: "POST", body: form });
    body = await response.json();
  } catch (err) {
    setStatus(`No answer from the server (${err.message})`, true);
    return;
  }
  if (!response.ok) {
    setStatus(body.error ? body.error.message : `HTTP ${response.status}`, true);
    return;
  }
  showAnswer(body);
  await drawPhoto(file, body);
}

function showAnswer(body) {
  answer.textContent = LABELS[body.answer] || body.answer;
  answer.dataset.answer = body.answer;
  const where = body.face_found ? `${body.faces.length} face(s)` : "no face found, looked at the centre";
  setStatus(`${where}; model ${body.model_version}, ${body.time_ms} ms`);
  for (const [i, face] of body.faces.entries()) {
    const item = document.createElement("li");
    const who = face.box ? `Face ${i + 1}` : "Centre of the photo";
    item.textContent = `${who}: ${LABELS[face.answer] || face.answer} (probability of glasses ${face.probability.toFixed(3)})`;
    faceList.append(item);
  }
}

async function drawPhoto(file, body) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(file);  // EXIF orientation applied, as on the server
  } catch (err) {
    return;  // a format the browser cannot show (e.g. TIFF): the answer is still there
  }
  const scale = Math.min(1, MAX_WIDTH / bitmap.width);
  canvas.width = Math.round(bitmap.width * scale);
  canvas.height = Math.round(bitmap.height * scale);
  const ctx = canvas.getContext("2d");
  ctx.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  const toCanvas = canvas.width / body.image_size[0];
  ctx.lineWidth = 3;
  ctx.font = "bold 16px system-ui, sans-serif";
  for (const [i, face] of body.faces.entries()) {
    if (!face.box) continue;
    const [x0, y0, x1, y1] = face.box.map((v) => v * toCanvas);
    ctx.strokeStyle = ctx.fillStyle = face.answer === "glass" ? "#22c55e" : "#f97316";
    ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
    ctx.fillText(String(i + 1), x0 + 4, Math.max(16, y0 - 4));
  }
  canvas.hidden = false;
}

input.addEventListener("change", () => classify(input.files[0]));
drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  classify(event.dataTransfer.files[0]);
});
