'use strict';
// The fm-image page. It talks to the JSON API of package host/web (see the
// package doc there); no framework, nothing loaded from elsewhere.

const $ = (id) => document.getElementById(id);
const JSON_HEADERS = { 'Content-Type': 'application/json' };

let config = { samplers: ['euler'], maxSteps: 100, maxImages: 16, maxSeed: 2 ** 53 - 1, presets: [], sizes: [] };
let models = [];

// ---- messages ----

// showError puts a message on the page; the user can dismiss it.
function showError(err) {
  const div = document.createElement('div');
  div.className = 'msg';
  div.setAttribute('role', 'alert');
  const text = document.createElement('span');
  text.textContent = err instanceof Error ? err.message : String(err);
  const close = document.createElement('button');
  close.type = 'button';
  close.textContent = '×';
  close.title = 'dismiss';
  close.onclick = () => div.remove();
  div.append(text, close);
  $('messages').append(div);
}

// ---- API helpers ----

// request fetches path (POSTing body as JSON if given) and returns the
// response, or throws an Error carrying the server's message.
async function request(path, body, signal) {
  const opts = { signal };
  if (body !== undefined) Object.assign(opts, { method: 'POST', headers: JSON_HEADERS, body: JSON.stringify(body) });
  let resp;
  try {
    resp = await fetch(path, opts);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new Error(`cannot reach the server: ${e.message}`);
  }
  if (!resp.ok) {
    let msg = `${resp.status} ${resp.statusText}`;
    try { msg = (await resp.json()).error || msg; } catch { /* not JSON */ }
    throw new Error(msg);
  }
  return resp;
}

const getJSON = async (path) => (await request(path)).json();

// readLines calls onLine for each line of a streamed response body.
async function readLines(resp, onLine) {
  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line) onLine(line);
    }
  }
}

// generate runs one POST /api/generate, calling the handlers for its events.
async function generate(req, { onStart, onQueued, onProgress, onPreview, onImage }, signal) {
  const resp = await request('/api/generate', req, signal);
  let finished = false;
  await readLines(resp, (line) => {
    const ev = JSON.parse(line);
    switch (ev.type) {
      case 'start': onStart?.(ev); break;
      case 'queued': onQueued?.(); break;
      case 'progress': onProgress?.(ev.step, ev.steps); break;
      case 'preview': onPreview?.(ev); break;
      case 'image': onImage?.(ev); break;
      case 'done': finished = true; break;
      case 'error': throw new Error(ev.error);
    }
  });
  if (!finished) throw new Error('the server ended the stream before the images were done');
}

// figure makes a gallery entry with a download link.
function figure(src, caption, filename) {
  const fig = document.createElement('figure');
  const img = document.createElement('img');
  img.alt = caption;
  if (src) img.src = src;
  const cap = document.createElement('figcaption');
  cap.textContent = caption;
  fig.append(img, cap);
  if (filename) fig.append(downloadLink(src, filename));
  return fig;
}

function downloadLink(src, filename) {
  const a = document.createElement('a');
  a.href = src;
  a.download = filename;
  a.textContent = 'download';
  return a;
}

const pngURL = (b64) => `data:image/png;base64,${b64}`;

// previewEvery is how many steps apart to ask for previews: 2 to 5.
const previewEvery = (steps) => Math.min(5, Math.max(2, Math.ceil(steps / 10)));

// ---- generate panel ----

function currentModel() { return models.find((m) => m.name === $('model').value); }

// stepRanges writes increasing step counts with runs of consecutive ones as
// ranges, as the CLI's info does: [1, 2, 3, 4, 8] -> "1-4, 8".
function stepRanges(counts) {
  const parts = [];
  for (let i = 0; i < counts.length;) {
    let j = i;
    while (j + 1 < counts.length && counts[j + 1] === counts[j] + 1) j++;
    if (j - i >= 2) parts.push(`${counts[i]}-${counts[j]}`);
    else for (let k = i; k <= j; k++) parts.push(String(counts[k]));
    i = j + 1;
  }
  return parts.join(', ');
}

// shownModel is the model whose default sampler the form was last set to.
let shownModel = null;

function showModelInfo() {
  const m = currentModel();
  const info = $('model-info');
  if (!m) { info.textContent = 'No models yet: train one, or start the server with --models DIR.'; return; }
  if (m.error) { info.textContent = m.error; return; }
  let sampling = '';
  if (m.sampler === 'flowmap') {
    sampling = m.stepCounts && m.stepCounts.length ? `; a few-step model: ${stepRanges(m.stepCounts)} steps with flowmap` :
      '; a few-step model: try 1-4 steps with flowmap';
  }
  info.textContent = `${m.arch}, ${m.width}×${m.height}, trained ${m.step}/${m.totalSteps} steps on ` +
    `${m.datasetSize} images, ${m.params.toLocaleString()} parameters, ${m.backend}${sampling}` + (m.training ? ' (training now)' : '');
  if (m.sampler && m.name !== shownModel) { // the model's default sampler and step count, once per model
    $('sampler').value = m.sampler;
    $('steps').value = m.sampler === 'flowmap' ? 4 : 20;
    $('steps').dispatchEvent(new Event('input'));
  }
  shownModel = m.name;
}

async function loadModels() {
  const keep = $('model').value;
  models = (await getJSON('/api/models')).models;
  const sel = $('model');
  sel.replaceChildren(...models.map((m) => new Option(m.error ? `${m.name} (unreadable)` : m.name, m.name)));
  if (models.some((m) => m.name === keep)) sel.value = keep;
  showModelInfo();
}

// seedValue returns the seed the form asks for: null = random.
function seedValue() {
  if ($('seed-random').checked) return null;
  const v = Number($('seed').value);
  if (!Number.isInteger(v) || v < 0 || v > config.maxSeed) throw new Error(`the seed must be a whole number in 0..${config.maxSeed}`);
  return v;
}

let genAbort = null;

async function onGenerate(ev) {
  ev.preventDefault();
  const model = $('model').value;
  if (!model) { showError('choose a model first'); return; }
  let req;
  try {
    req = { model, sampler: $('sampler').value, steps: Number($('steps').value), seed: seedValue(), n: Number($('n').value) };
    req.preview = previewEvery(req.steps);
  } catch (e) { showError(e); return; }
  genAbort = new AbortController();
  $('gen-go').disabled = true;
  $('gen-cancel').disabled = false;
  const bar = $('gen-progress');
  const status = $('gen-status');
  bar.value = 0;
  status.textContent = 'starting…';
  let started = null;
  // Placeholders showing the latest preview of each pending image, by index;
  // each is replaced by its final image.
  const pending = new Map();
  try {
    await generate(req, {
      onStart: (s) => {
        started = s;
        $('seed').value = s.seed;
        status.textContent = `seed ${s.seed}`;
      },
      onQueued: () => { status.textContent = 'waiting for a free slot…'; },
      onProgress: (step, steps) => {
        bar.max = steps;
        bar.value = step;
        status.textContent = `step ${step}/${steps} · seed ${started.seed}`;
      },
      onPreview: (ev) => {
        for (const p of ev.images) {
          let fig = pending.get(p.index);
          if (!fig) {
            fig = figure('', `preview #${p.index}`);
            fig.classList.add('preview');
            pending.set(p.index, fig);
            $('gallery').prepend(fig);
          }
          fig.querySelector('img').src = pngURL(p.png);
          fig.querySelector('figcaption').textContent = `preview · step ${ev.step}/${ev.steps} · #${p.index}`;
        }
      },
      onImage: (img) => {
        const s = started;
        const src = pngURL(img.png);
        const fig = figure(src, `${s.model} · ${s.sampler} · ${s.steps} steps · seed ${s.seed} · #${img.index}`,
          `${s.model}-${s.sampler}-${s.steps}steps-seed${s.seed}-${img.index}.png`);
        const placeholder = pending.get(img.index);
        if (placeholder) {
          placeholder.replaceWith(fig);
          pending.delete(img.index);
        } else {
          $('gallery').prepend(fig);
        }
      },
    }, genAbort.signal);
    status.textContent = `done: ${req.n} image(s), ${started.steps} steps, seed ${started.seed}`;
  } catch (e) {
    if (e.name === 'AbortError') status.textContent = 'cancelled';
    else { status.textContent = 'failed'; showError(e); }
  } finally {
    for (const fig of pending.values()) fig.remove(); // cancelled or failed
    $('gen-go').disabled = false;
    $('gen-cancel').disabled = true;
  }
}

// parseStepList reads "1, 2, 5" into distinct step counts within limits.
function parseStepList(text) {
  const steps = [...new Set(text.split(/[\s,]+/).filter(Boolean).map(Number))];
  if (!steps.length || steps.some((s) => !Number.isInteger(s) || s < 1 || s > config.maxSteps)) {
    throw new Error(`step counts must be whole numbers in 1..${config.maxSteps}, separated by commas`);
  }
  if (steps.length > 12) throw new Error('compare at most 12 step counts at once');
  return steps.sort((a, b) => a - b);
}

async function onStrip(ev) {
  ev.preventDefault();
  const model = $('model').value;
  if (!model) { showError('choose a model first'); return; }
  let steps, seed;
  try {
    steps = parseStepList($('strip-steps').value);
    seed = seedValue() ?? Math.floor(Math.random() * 2 ** 31);
  } catch (e) { showError(e); return; }
  const sampler = $('sampler').value;
  const strip = $('strip');
  strip.replaceChildren();
  $('strip-go').disabled = true;
  // One request per step count, all at once: the server queues them and
  // each image appears as soon as its own request finishes.
  await Promise.all(steps.map(async (n) => {
    const fig = figure('', `${n} step${n === 1 ? '' : 's'} · seed ${seed}`);
    const bar = document.createElement('progress');
    bar.max = n;
    bar.value = 0;
    fig.append(bar);
    strip.append(fig);
    try {
      await generate({ model, sampler, steps: n, seed, n: 1, preview: previewEvery(n) }, {
        onProgress: (step) => { bar.value = step; },
        onPreview: (ev) => { if (ev.images.length) fig.querySelector('img').src = pngURL(ev.images[0].png); },
        onImage: (img) => {
          const src = pngURL(img.png);
          fig.querySelector('img').src = src;
          bar.replaceWith(downloadLink(src, `${model}-${sampler}-${n}steps-seed${seed}.png`));
        },
      });
    } catch (e) {
      bar.remove();
      showError(`${n} steps: ${e.message}`);
    }
  }));
  $('strip-go').disabled = false;
}

// ---- train panel ----

let folder = '';
let watching = null; // { model, source, points }

async function loadFolder(dir) {
  const f = await getJSON(`/api/folders?dir=${encodeURIComponent(dir)}`);
  folder = f.dir;
  $('folder-path').textContent = '/' + folder;
  $('folder-count').textContent = `${f.images} image(s)` + (f.truncated ? ', listing cut short' : '');
  const buttons = [];
  if (folder) {
    const up = document.createElement('button');
    up.type = 'button';
    up.textContent = '↑ up';
    up.onclick = () => loadFolder(folder.split('/').slice(0, -1).join('/')).catch(showError);
    buttons.push(up);
  }
  for (const name of f.folders) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = name + '/';
    b.onclick = () => loadFolder(folder ? `${folder}/${name}` : name).catch(showError);
    buttons.push(b);
  }
  $('folders').replaceChildren(...buttons);
}

// A budgeted run reports a total of 0 until it has timed its first steps
// and fitted its schedule to the budget.
function totalText(n) { return n > 0 ? String(n) : '? (timing the first steps)'; }

async function loadRuns() {
  const { runs } = await getJSON('/api/trainings');
  $('runs').replaceChildren(...runs.map((r) => {
    const li = document.createElement('li');
    li.textContent = `${r.model} on /${r.data}: ${r.state}, step ${r.step}/${totalText(r.totalSteps)} `;
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'small';
    b.textContent = 'watch';
    b.onclick = () => watch(r.model);
    li.append(b);
    return li;
  }));
  return runs;
}

async function onTrain(ev) {
  ev.preventDefault();
  const req = {
    model: $('train-model').value.trim(),
    data: folder,
    arch: $('train-arch').value,
    size: Number($('train-size').value),
    steps: Number($('train-steps').value),
    minutes: Number($('train-minutes').value),
    batch: Number($('train-batch').value),
    lr: Number($('train-lr').value),
    checkpointEvery: Number($('train-every').value),
    resume: $('train-resume').checked,
  };
  try {
    await request('/api/train', req);
    watch(req.model);
    loadRuns().catch(showError);
  } catch (e) { showError(e); }
}

async function onStop() {
  if (!watching) return;
  $('train-stop').disabled = true;
  try { await request('/api/train/stop', { model: watching.model }); } catch (e) { showError(e); }
}

// watch follows the events of model's run: loss points, log lines and
// samples, until its end event.
function watch(model) {
  watching?.source.close();
  const w = { model, points: [], source: new EventSource(`/api/train/events?model=${encodeURIComponent(model)}`) };
  watching = w;
  $('run-name').textContent = model;
  $('run-state').textContent = 'running';
  $('run-status').textContent = '';
  $('run-log').textContent = '';
  $('samples').replaceChildren();
  $('sample-note').textContent = '';
  $('train-stop').disabled = false;
  drawLoss(w.points);
  const log = (line) => { $('run-log').textContent += line + '\n'; };
  w.source.onmessage = (msg) => {
    const ev = JSON.parse(msg.data);
    switch (ev.type) {
      case 'progress':
        w.points.push([ev.step, ev.loss]);
        drawLoss(w.points);
        $('run-status').textContent = `step ${ev.step}/${totalText(ev.totalSteps)} · loss ${ev.loss.toPrecision(4)} · ` +
          `${Math.round(ev.imagesPerSec)} img/s · ETA ${Math.round(ev.etaSeconds)} s`;
        break;
      case 'message':
      case 'checkpoint':
        log(`[${ev.step}] ${ev.message}`);
        break;
      case 'sample':
        $('sample-note').textContent = `at step ${ev.step}: ${ev.message}`;
        $('samples').replaceChildren(...ev.images.map((b64, i) =>
          figure(pngURL(b64), `step ${ev.step} #${i}`, `${model}-step${ev.step}-${i}.png`)));
        break;
      case 'end':
        w.source.close();
        $('run-state').textContent = ev.state;
        $('train-stop').disabled = true;
        log(`[${ev.step}] ${ev.state}${ev.message ? ': ' + ev.message : ''}`);
        if (ev.error) showError(ev.error);
        loadRuns().catch(showError);
        loadModels().catch(showError);
        break;
    }
  };
  w.source.onerror = () => {
    if (w.source.readyState === EventSource.CLOSED) showError(`lost the event stream of ${model}`);
  };
}

// drawLoss plots the loss (log scale) against the step on the canvas.
function drawLoss(points) {
  const c = $('loss');
  const g = c.getContext('2d');
  const pad = { l: 56, r: 10, t: 10, b: 24 };
  g.clearRect(0, 0, c.width, c.height);
  g.font = '11px system-ui, sans-serif';
  g.fillStyle = '#5f6b7a';
  const pts = points.filter(([, loss]) => loss > 0);
  if (pts.length < 2) { g.fillText('the loss curve appears here while training', pad.l, c.height / 2); return; }
  const x0 = pts[0][0], x1 = pts[pts.length - 1][0];
  const logs = pts.map(([, loss]) => Math.log10(loss));
  const y0 = Math.min(...logs), y1 = Math.max(...logs);
  const w = c.width - pad.l - pad.r, h = c.height - pad.t - pad.b;
  const sx = (x) => pad.l + (x1 > x0 ? (x - x0) / (x1 - x0) : 0) * w;
  const sy = (y) => pad.t + (y1 > y0 ? (y1 - y) / (y1 - y0) : 0.5) * h;
  g.strokeStyle = '#d7dce2';
  g.strokeRect(pad.l, pad.t, w, h);
  g.fillText(10 ** y1 < 0.01 ? (10 ** y1).toExponential(2) : (10 ** y1).toPrecision(3), 4, pad.t + 10);
  g.fillText(10 ** y0 < 0.01 ? (10 ** y0).toExponential(2) : (10 ** y0).toPrecision(3), 4, pad.t + h);
  g.fillText(`step ${x0}`, pad.l, c.height - 6);
  g.fillText(`step ${x1}`, pad.l + w - 60, c.height - 6);
  g.strokeStyle = '#2463eb';
  g.beginPath();
  pts.forEach(([x], i) => (i ? g.lineTo : g.moveTo).call(g, sx(x), sy(logs[i])));
  g.stroke();
}

// ---- start-up ----

function showTab(name) {
  for (const b of document.querySelectorAll('.tab')) b.classList.toggle('active', b.dataset.tab === name);
  $('generate').hidden = name !== 'generate';
  $('train').hidden = name !== 'train';
}

async function init() {
  for (const b of document.querySelectorAll('.tab')) b.onclick = () => showTab(b.dataset.tab);
  $('steps').oninput = () => { $('steps-out').value = $('steps').value; };
  $('seed-random').onchange = () => { $('seed').disabled = $('seed-random').checked; };
  $('gen-form').onsubmit = onGenerate;
  $('gen-cancel').onclick = () => genAbort?.abort();
  $('strip-form').onsubmit = onStrip;
  $('gallery-clear').onclick = () => $('gallery').replaceChildren();
  $('train-form').onsubmit = onTrain;
  $('train-stop').onclick = onStop;
  $('model').onchange = showModelInfo;

  config = await getJSON('/api/config');
  $('sampler').replaceChildren(...config.samplers.map((s) => new Option(s, s)));
  $('steps').max = config.maxSteps;
  $('n').max = config.maxImages;
  $('seed').max = config.maxSeed;
  $('train-arch').append(...config.presets.map((p) => {
    const o = new Option(p.default ? `${p.name} (the default)` : p.name, p.name);
    o.title = `${p.description} (${p.width}×${p.height})`;
    return o;
  }));
  $('train-size').append(...config.sizes.map((s) => new Option(`${s}×${s}`, s)));
  drawLoss([]);
  await Promise.all([loadModels(), loadFolder('')]);
  const runs = await loadRuns();
  const active = runs.find((r) => r.state === 'running' || r.state === 'stopping');
  if (active) watch(active.model);
  document.body.dataset.ready = 'true';
}

init().catch(showError);
