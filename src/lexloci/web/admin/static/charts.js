// Inline SVG bar charts, drawn here so that no chart library (and no other origin) is needed.
// Colour is never the only cue: every bar carries its label and its number as text, and the
// chart's accessible name states the figures the bars show.

const SVG = "http://www.w3.org/2000/svg";
const ROW = 26;
const LABEL_WIDTH = 190;
const BAR_MAX = 320;
const COUNT_WIDTH = 90;

function node(tag, attrs, text) {
  const n = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) n.setAttribute(key, String(value));
  if (text !== undefined) n.textContent = text;
  return n;
}

// rows: [{label, value, kind}] where kind picks the bar's class (inside, outside, uncertain,
// joined, ...). Returns an <svg> with role="img" and a <title>.
export function barChart(rows, { title, unit = "" }) {
  const max = Math.max(1, ...rows.map((r) => r.value));
  const height = Math.max(1, rows.length) * ROW + 8;
  const width = LABEL_WIDTH + BAR_MAX + COUNT_WIDTH;
  const summary = rows.length
    ? rows.map((r) => `${r.label}: ${r.value}${unit}${r.kind ? ` (${r.kind})` : ""}`).join("; ")
    : "nobody";
  const svg = node("svg", {
    class: "chart",
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: "img",
    "aria-label": `${title}: ${summary}`,
  });
  svg.append(node("title", {}, `${title}: ${summary}`));
  if (!rows.length) {
    svg.append(node("text", { x: 0, y: 18, class: "chart-label" }, "nobody"));
    return svg;
  }
  rows.forEach((row, i) => {
    const y = i * ROW + 4;
    const barWidth = row.value === 0 ? 0 : Math.max(2, Math.round((row.value / max) * BAR_MAX));
    const group = node("g", { class: `chart-row chart-${row.kind || "plain"}` });
    group.append(node("text", { x: LABEL_WIDTH - 8, y: y + 15, "text-anchor": "end", class: "chart-label" }, row.label));
    group.append(node("rect", { x: LABEL_WIDTH, y, width: barWidth, height: ROW - 8, rx: 2, class: "chart-bar" }));
    const note = row.kind ? ` ${row.kind}` : "";
    group.append(node("text", { x: LABEL_WIDTH + barWidth + 6, y: y + 15, class: "chart-count" }, `${row.value}${unit}${note}`));
    svg.append(group);
  });
  return svg;
}
