/* carousel report page: the utterance table over the page's JSON data (see html_report.py).
 *
 * Rows are filtered into a Uint32Array of row numbers, sorted on cached numeric keys, and only
 * one page of them (100 by default) is turned into DOM, so 100,000 utterances stay responsive.
 * Hypotheses may arrive as diffs against the reference (word edit script + inserted words) and
 * are rebuilt on demand. window.carouselReport exposes the state and timings for tests.
 */
(function () {
  "use strict";
  const t0 = performance.now();
  const D = JSON.parse(document.getElementById("report-data").textContent);
  const parseMs = performance.now() - t0;
  const N = D.ids.length;
  const SYS = D.systems;
  const UNITS = D.units;
  const COMPARE = SYS.length > 1;
  const HAS_SPK = Array.isArray(D.spk);
  const M = D.media;
  const state = { q: "", speaker: -1, onlyErrors: false, onlyDiff: false, confusion: -1,
                  sort: "index", dir: 1, page: 0, size: 100, view: UNITS[0] };
  const timings = { parse: parseMs };
  let view = new Uint32Array(0);
  let haystack = null, searchBuilt = 0;
  const hypCache = SYS.map(() => new Array(N));
  const keyCache = new Map();

  const $ = (id) => document.getElementById(id);
  const ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ESC[c]);
  const words = (t) => (t === "" ? [] : t.split(" "));
  const split = (t, unit) => (unit === "word" ? words(t) : Array.from(t));
  const fmt = (x, d) => (x == null ? "" : Number(x).toFixed(d));

  /* The edit script of a row: "" means all correct; digits are runs of C, letters S, D, I. */
  function decodeOps(code, n) {
    if (!code) return "C".repeat(n);
    let out = "", num = "";
    for (const ch of code) {
      if (ch >= "0" && ch <= "9") { num += ch; continue; }
      if (num) { out += "C".repeat(Number(num)); num = ""; }
      out += ch;
    }
    return num ? out + "C".repeat(Number(num)) : out;
  }

  /* The (normalised) hypothesis of system s for row i. */
  function hypText(s, i) {
    const sys = SYS[s];
    if (sys.hyp) return sys.hyp[i];
    let text = hypCache[s][i];
    if (text !== undefined) return text;
    const code = sys.ops.word[i];
    if (!code) {
      text = D.ref[i];
    } else {
      const ref = words(D.ref[i]), added = sys.hw[i] || [], out = [];
      let r = 0, k = 0;
      for (const op of decodeOps(code, ref.length)) {
        if (op === "C") out.push(ref[r++]);
        else if (op === "S") { out.push(added[k++]); r++; }
        else if (op === "D") r++;
        else out.push(added[k++]);
      }
      text = out.join(" ");
    }
    hypCache[s][i] = text;
    return text;
  }

  const rate = (s, unit, i) => SYS[s].err[unit][i] / Math.max(D.len[unit][i], 1);
  const hasErrors = (i) => SYS.some((sys) => UNITS.some((u) => sys.err[u][i] > 0));
  const differs = (i) => UNITS.some((u) => SYS[0].err[u][i] !== SYS[1].err[u][i]
                                          || hypText(0, i) !== hypText(1, i));

  /* Lower-cased "id ref hyp..." of every row: built in slices while the page is idle after the
   * first render (hypotheses are rebuilt for it), or at once by a search that comes earlier. */
  function buildSearch(upto) {
    if (haystack === null) haystack = new Array(N);
    for (; searchBuilt < upto; searchBuilt++) {
      const j = searchBuilt;
      let text = D.ids[j] + "\n" + D.ref[j];
      for (let s = 0; s < SYS.length; s++) text += "\n" + hypText(s, j);
      haystack[j] = text.toLowerCase();
    }
    if (searchBuilt >= N && timings.searchIndex === undefined) timings.searchIndex = performance.now();
  }
  function buildSearchWhenIdle() {
    if (searchBuilt >= N) return;
    buildSearch(Math.min(N, searchBuilt + 2000));
    setTimeout(buildSearchWhenIdle, 0);
  }
  function searchText(i) {
    if (i >= searchBuilt) buildSearch(N);
    return haystack[i];
  }

  /* Sort keys: "index", "id", "speaker", "len:U", "err:S:U", "rate:S:U", "diff:U". */
  function sortKey(key) {
    if (keyCache.has(key)) return keyCache.get(key);
    const [kind, a, b] = key.split(":");
    let out;
    if (kind === "id") {
      out = D.ids;
    } else {
      out = new Float64Array(N);
      for (let i = 0; i < N; i++) {
        if (kind === "speaker") out[i] = D.spk[i];
        else if (kind === "len") out[i] = D.len[a][i];
        else if (kind === "err") out[i] = SYS[+a].err[b][i];
        else if (kind === "rate") out[i] = rate(+a, b, i);
        else if (kind === "diff") out[i] = SYS[1].err[a][i] - SYS[0].err[a][i];
        else out[i] = i;
      }
    }
    keyCache.set(key, out);
    return out;
  }

  function sortView() {
    const started = performance.now();
    const dir = state.dir;
    if (state.sort === "index") {
      view.sort();
      if (dir < 0) view.reverse();
    } else {
      const k = sortKey(state.sort);
      if (k === D.ids) {
        view.sort((x, y) => (k[x] < k[y] ? -dir : k[x] > k[y] ? dir : x - y));
      } else {
        view.sort((x, y) => (k[x] - k[y]) * dir || x - y);
      }
    }
    timings.sort = performance.now() - started;
  }

  /* Filter every row, sort, show the first page. */
  function apply() {
    const started = performance.now();
    const q = state.q.trim().toLowerCase();
    const spk = state.speaker, conf = state.confusion;
    const out = new Uint32Array(N);
    let m = 0;
    for (let i = 0; i < N; i++) {
      if (spk >= 0 && D.spk[i] !== spk) continue;
      if (state.onlyErrors && !hasErrors(i)) continue;
      if (conf >= 0 && !(D.conf[i] && D.conf[i].indexOf(conf) >= 0)) continue;
      if (COMPARE && state.onlyDiff && !differs(i)) continue;
      if (q && searchText(i).indexOf(q) < 0) continue;
      out[m++] = i;
    }
    view = out.slice(0, m);
    timings.filter = performance.now() - started;
    sortView();
    state.page = 0;
    render();
    timings.apply = performance.now() - started;
  }

  function cell(cls, ref, hyp) {
    return `<span class="t ${cls}"><b>${ref}</b><i>${hyp}</i></span>`;
  }

  /* Reference over hypothesis, token by token, errors coloured. */
  function alignment(s, i, unit) {
    const ref = split(D.ref[i], unit), hyp = split(hypText(s, i), unit);
    const ops = decodeOps(SYS[s].ops[unit][i], ref.length);
    let nr = 0, nh = 0;
    for (const op of ops) { nr += op !== "I"; nh += op !== "D"; }
    if (nr !== ref.length || nh !== hyp.length) {  // never expected: show the texts as they are
      return `<div class="plain"><div>${esc(D.ref[i])}</div><div>${esc(hypText(s, i))}</div></div>`;
    }
    const gap = `<span class="gap">${unit === "word" ? "***" : "*"}</span>`;
    const show = (t) => (unit === "char" && t === " " ? "\u2423" : esc(t));
    const parts = [];
    let r = 0, h = 0, run = "";
    const flush = () => { if (run) { parts.push(cell("C", run, run)); run = ""; } };
    for (const op of ops) {
      if (op === "C") {
        const t = ref[r++]; h++;
        if (unit === "word") { parts.push(cell("C", esc(t), esc(t))); continue; }
        run += esc(t);
        if (t === " ") flush();
        continue;
      }
      flush();
      if (op === "S") parts.push(cell("S", show(ref[r++]), show(hyp[h++])));
      else if (op === "D") parts.push(cell("D", show(ref[r++]), gap));
      else parts.push(cell("I", gap, show(hyp[h++])));
    }
    flush();
    return `<div class="al-lines ${unit}">${parts.join("")}</div>`;
  }

  /* [text, start, end, confidence] of the words or tokens of system s on row i. */
  function spansOf(s, i) {
    const raw = M.spans[s] && M.spans[s][i];
    if (!raw) return [];
    const hw = M.kind === "audio" ? words(hypText(s, i)) : [];
    return raw.split("\n").map((line, k) => {
      const [t, a, b, c] = line.split("\t");
      return [t || hw[k] || "", Number(a) / M.scale, Number(b) / M.scale,
              c === "" || c === undefined ? null : Number(c) / 100];
    });
  }

  function mediaHtml(s, i) {
    if (!M || !M.src[i]) return "";
    const spans = spansOf(s, i);
    const src = esc(M.src[i]);
    if (M.kind === "audio") {
      const player = s === 0 ? `<audio controls preload="none" src="${src}"></audio>` : "";
      const chips = spans.map(([w, a, b, c]) => {
        const title = `${fmt(a, 2)}\u2013${fmt(b, 2)} s` + (c == null ? "" : `, confidence ${fmt(c, 2)}`);
        return `<span class="wd" data-t="${a}" data-e="${b}" title="${title}">${esc(w)}</span>`;
      });
      return `<div class="media">${player}<div class="words">${chips.join("")}</div></div>`;
    }
    const extent = M.extent[i];
    const boxes = spans.map(([t, a, b, c]) => {
      const cls = t.trim() === "" ? " sp" : "";
      const style = extent ? ` style="left:${(100 * a / extent).toFixed(3)}%;width:${(100 * (b - a) / extent).toFixed(3)}%"` : "";
      const title = `${esc(t)} ${fmt(a, 0)}\u2013${fmt(b, 0)} px` + (c == null ? "" : `, confidence ${fmt(c, 2)}`);
      return `<span class="bx${cls}" data-x0="${a}" data-x1="${b}"${style} title="${title}"><i>${esc(t.trim())}</i></span>`;
    });
    return `<div class="media"><div class="line"><img src="${src}" alt="line image ${esc(D.ids[i])}">${boxes.join("")}</div></div>`;
  }

  function rowHtml(i) {
    const parts = [`<tr data-row="${i}" data-id="${esc(D.ids[i])}"><td class="n">${i + 1}</td>`,
                   `<td class="id">${esc(D.ids[i])}</td>`];
    if (HAS_SPK) parts.push(`<td>${D.spk[i] >= 0 ? esc(D.speakers[D.spk[i]]) : ""}</td>`);
    for (const u of UNITS) {
      if (COMPARE) {
        const a = SYS[0].err[u][i], b = SYS[1].err[u][i], d = b - a;
        const cls = d < 0 ? "n d better" : d > 0 ? "n d worse" : "n d";
        parts.push(`<td class="n">${a}</td><td class="n">${b}</td>`,
                   `<td class="${cls}">${d > 0 ? "+" + d : d}</td>`);
      } else {
        parts.push(`<td class="n">${SYS[0].err[u][i]}/${D.len[u][i]}</td>`,
                   `<td class="n">${(100 * rate(0, u, i)).toFixed(1)}</td>`);
      }
    }
    for (let s = 0; s < SYS.length; s++) {
      parts.push(`<td class="al">${alignment(s, i, state.view)}${mediaHtml(s, i)}</td>`);
    }
    parts.push("</tr>");
    return parts.join("");
  }

  function render() {
    const started = performance.now();
    const total = view.length, pages = Math.max(1, Math.ceil(total / state.size));
    state.page = Math.max(0, Math.min(state.page, pages - 1));
    const start = state.page * state.size, end = Math.min(total, start + state.size);
    const html = [];
    for (let k = start; k < end; k++) html.push(rowHtml(view[k]));
    $("rows").tBodies[0].innerHTML = html.join("");
    $("empty").hidden = total > 0;
    const label = COMPARE ? "utterances" : D.rowLabel;
    $("count").textContent = `${total.toLocaleString("en")} of ${N.toLocaleString("en")} ${label}` +
      (total ? `, showing ${(start + 1).toLocaleString("en")}\u2013${end.toLocaleString("en")}` : "");
    $("page").textContent = `page ${state.page + 1} of ${pages}`;
    for (const th of $("rows").tHead.querySelectorAll("th[data-sort]")) {
      const on = th.dataset.sort === state.sort;
      th.classList.toggle("sorted", on);
      th.classList.toggle("asc", on && state.dir > 0);
      th.classList.toggle("desc", on && state.dir < 0);
    }
    timings.render = performance.now() - started;
  }

  function header() {
    const name = (s) => esc(SYS[s].name);
    const unitName = { word: "word", char: "char" };
    const metric = { word: "WER", char: "CER" };
    const top = ['<th class="n" data-sort="index" title="position in the input">#</th>',
                 '<th data-sort="id">id</th>'];
    const second = [];
    if (HAS_SPK) top.push(`<th data-sort="speaker">${esc(D.speakerLabel)}</th>`);
    for (const u of UNITS) {
      if (COMPARE) {
        top.push(`<th class="n grp" colspan="3">${unitName[u]} errors</th>`);
        second.push(`<th class="n" data-sort="err:0:${u}" title="${unitName[u]} errors of ${name(0)}">A</th>`,
                    `<th class="n" data-sort="err:1:${u}" title="${unitName[u]} errors of ${name(1)}">B</th>`,
                    `<th class="n" data-sort="diff:${u}" title="${unitName[u]} errors of ${name(1)} minus those of ${name(0)}">\u0394</th>`);
      } else {
        top.push(`<th class="n" data-sort="err:0:${u}" title="${unitName[u]} errors / reference ${unitName[u]}s">${unitName[u]} err</th>`,
                 `<th class="n" data-sort="rate:0:${u}">${metric[u]} %</th>`);
      }
    }
    for (let s = 0; s < SYS.length; s++) {
      top.push(`<th>reference / ${COMPARE ? "ABCD"[s] + ": " + name(s) : "hypothesis"}</th>`);
    }
    if (COMPARE) {  // the grouped headers span two rows except the error counts
      for (let k = 0; k < top.length; k++) {
        if (!top[k].includes('colspan="3"')) top[k] = top[k].replace("<th", '<th rowspan="2"');
      }
    }
    $("rows").tHead.innerHTML = `<tr>${top.join("")}</tr>` + (second.length ? `<tr>${second.join("")}</tr>` : "");
    $("rows").classList.toggle("compare", COMPARE);
  }

  function controls() {
    const spk = $("speaker");
    if (HAS_SPK) {
      spk.options[0].textContent = `every ${D.speakerLabel}`;
      D.speakers.forEach((name, k) => spk.add(new Option(name, String(k))));
    } else {
      spk.hidden = true;
    }
    const conf = $("confusion");
    const kinds = { S: "substitutions", D: "deletions", I: "insertions" };
    const groups = new Map();
    D.confusions.forEach(([s, unit, kind, ref, hyp, count], k) => {
      const label = `${COMPARE ? SYS[s].name + ": " : ""}${unit} ${kinds[kind]}`;
      if (!groups.has(label)) {
        const g = document.createElement("optgroup");
        g.label = label;
        conf.appendChild(g);
        groups.set(label, g);
      }
      const show = (t) => (t === " " ? "\u2423" : t);
      const text = kind === "S" ? `${show(ref)} \u2192 ${show(hyp)}` : show(kind === "D" ? ref : hyp);
      groups.get(label).appendChild(new Option(`${text} (${count})`, String(k)));
    });
    conf.hidden = D.confusions.length === 0;
    $("only-diff-label").hidden = !COMPARE;
    const viewSel = $("view");
    if (UNITS.length < 2) viewSel.hidden = true;
    for (const u of UNITS) viewSel.add(new Option(u === "word" ? "align words" : "align characters", u));
    viewSel.value = state.view;
  }

  let typing = 0;
  function bind() {
    const q = $("q");
    q.addEventListener("input", () => {
      clearTimeout(typing);
      typing = setTimeout(() => { state.q = q.value; apply(); }, 200);
    });
    q.addEventListener("change", () => { clearTimeout(typing); state.q = q.value; apply(); });
    $("speaker").addEventListener("change", (e) => { state.speaker = Number(e.target.value || -1); apply(); });
    $("confusion").addEventListener("change", (e) => { state.confusion = Number(e.target.value || -1); apply(); });
    $("only-errors").addEventListener("change", (e) => { state.onlyErrors = e.target.checked; apply(); });
    $("only-diff").addEventListener("change", (e) => { state.onlyDiff = e.target.checked; apply(); });
    $("view").addEventListener("change", (e) => { state.view = e.target.value; render(); });
    $("size").addEventListener("change", (e) => { state.size = Number(e.target.value); state.page = 0; render(); });
    $("rows").tHead.addEventListener("click", (e) => {
      const th = e.target.closest("th[data-sort]");
      if (!th) return;
      const key = th.dataset.sort;
      if (key === state.sort) state.dir = -state.dir;
      else { state.sort = key; state.dir = key === "index" || key === "id" || key === "speaker" ? 1 : -1; }
      sortView();
      state.page = 0;
      render();
    });
    const go = { first: () => 0, prev: () => state.page - 1, next: () => state.page + 1, last: () => Infinity };
    $("pager").addEventListener("click", (e) => {
      const b = e.target.closest("button[data-go]");
      if (!b) return;
      state.page = go[b.dataset.go]();
      render();
      $("utterances").scrollIntoView();
    });
    document.body.addEventListener("click", (e) => {
      const link = e.target.closest("[data-speaker],[data-confusion]");
      if (!link) return;
      e.preventDefault();
      if (link.dataset.speaker !== undefined) {
        state.speaker = D.speakers.indexOf(link.dataset.speaker);
        $("speaker").value = String(state.speaker);
      } else {
        state.confusion = Number(link.dataset.confusion);
        $("confusion").value = link.dataset.confusion;
      }
      apply();
      $("utterances").scrollIntoView();
    });
    const body = $("rows").tBodies[0];
    body.addEventListener("click", (e) => {
      const chip = e.target.closest(".wd");
      if (!chip) return;
      const audio = chip.closest("tr").querySelector("audio");
      if (!audio) return;
      audio.currentTime = Number(chip.dataset.t);
      const played = audio.play();
      if (played && played.catch) played.catch(() => {});
    });
    body.addEventListener("timeupdate", (e) => {
      const audio = e.target, now = audio.currentTime;
      for (const chip of audio.closest("tr").querySelectorAll(".wd")) {
        chip.classList.toggle("now", now >= Number(chip.dataset.t) && now < Number(chip.dataset.e));
      }
    }, true);
    body.addEventListener("load", (e) => {  // boxes of an image whose width was not known
      const img = e.target;
      if (img.tagName !== "IMG" || !img.naturalWidth) return;
      for (const bx of img.parentNode.querySelectorAll(".bx:not([style])")) {
        const a = Number(bx.dataset.x0), b = Number(bx.dataset.x1);
        bx.style.left = `${(100 * a / img.naturalWidth).toFixed(3)}%`;
        bx.style.width = `${(100 * (b - a) / img.naturalWidth).toFixed(3)}%`;
      }
    }, true);
  }

  header();
  controls();
  bind();
  apply();
  timings.firstRender = performance.now();
  setTimeout(buildSearchWhenIdle, 250);
  window.carouselReport = {
    state, timings, apply, render, hypText,
    matching: () => view.length,
    shownIds: () => Array.from($("rows").tBodies[0].rows, (tr) => tr.dataset.id),
  };
})();
