// The models view's calibration and accepting part: the active version's reliability diagram with its
// expected calibration error before and after temperature scaling, and "accept at precision"
// (POST /api/accept, docs/accepting.md), first as a dry run, then for real after a confirmation.

import { api } from "../lib/api.js";
import { h, run } from "../lib/dom.js";
import { shortId } from "../lib/format.js";

/** @typedef {import("mobilabel-api").Version} Version */
/** @typedef {import("mobilabel-api").Calibration} Calibration */
/** @typedef {import("mobilabel-api").ReliabilityBin} ReliabilityBin */
/** @typedef {import("mobilabel-api").AcceptReport} AcceptReport */

const SVG = "http://www.w3.org/2000/svg";
const SIZE = 200; // the diagram's plot, in SVG units (it scales with the page)
const MARGIN = 30;

/** @param {string} tag @param {Record<string, string | number>} attrs @param {...Node} children */
function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  el.append(...children);
  return el;
}

/**
 * A reliability diagram: per confidence bin, a bar as high as the share right; the diagonal is perfect calibration.
 * @param {ReliabilityBin[]} bins @param {string} title
 */
export function reliabilityDiagram(bins, title) {
  const y = (/** @type {number} */ v) => MARGIN + SIZE * (1 - v);
  const bars = bins
    .filter((b) => b.count > 0 && b.accuracy !== null && b.accuracy !== undefined)
    .map((b) =>
      svg(
        "rect",
        {
          class: "bar",
          x: MARGIN + SIZE * b.low,
          y: y(Number(b.accuracy)),
          width: SIZE * (b.high - b.low) - 1,
          height: SIZE * Number(b.accuracy),
        },
        svg(
          "title",
          {},
          document.createTextNode(
            `${b.count} images, mean confidence ${(b.confidence ?? 0).toFixed(2)}, ${(Number(b.accuracy) * 100).toFixed(0)}% right`,
          ),
        ),
      ),
    );
  return svg(
    "svg",
    { viewBox: `0 0 ${SIZE + 2 * MARGIN} ${SIZE + 2 * MARGIN}`, class: "reliability", role: "img", "aria-label": title },
    svg("title", {}, document.createTextNode(title)),
    svg("rect", { class: "frame", x: MARGIN, y: MARGIN, width: SIZE, height: SIZE }),
    ...bars,
    svg("line", { class: "diagonal", x1: MARGIN, y1: y(0), x2: MARGIN + SIZE, y2: y(1) }),
    svg("text", { x: MARGIN + SIZE / 2, y: SIZE + MARGIN + 20, "text-anchor": "middle" }, document.createTextNode("confidence")),
    svg(
      "text",
      { x: 12, y: MARGIN + SIZE / 2, transform: `rotate(-90 12 ${MARGIN + SIZE / 2})`, "text-anchor": "middle" },
      document.createTextNode("share right"),
    ),
  );
}

/** @param {Version | undefined} active @returns {Promise<HTMLElement[]>} */
export async function calibrationPart(active) {
  if (!active) return [h("p", {}, "No version is active.")];
  if (!active.metrics.calibration) {
    return [
      h(
        "p",
        { id: "calibration" },
        `Version ${shortId(active.id)} is not calibrated (only versions trained since calibration are).`,
      ),
    ];
  }
  const found = /** @type {Calibration} */ (await api(`/api/models/${encodeURIComponent(active.id)}/calibration`));
  return [
    h(
      "p",
      { id: "calibration" },
      `Version ${shortId(found.version_id)}: expected calibration error ${found.ece_before.toFixed(3)} before, `,
      `${found.ece_after.toFixed(3)} after temperature scaling (T = ${found.temperature.toFixed(2)}, fitted on ${found.images} held-out images).`,
    ),
    h(
      "div",
      { class: "diagrams" },
      h("figure", {}, reliabilityDiagram(found.reliability_before, "before calibration"), h("figcaption", {}, "before")),
      h("figure", {}, reliabilityDiagram(found.reliability_after, "after calibration"), h("figcaption", {}, "after")),
    ),
  ];
}

/** @param {Version | undefined} active @returns {HTMLElement[]} */
export function acceptPart(active) {
  const shown = h("div", { id: "accept-report", "aria-live": "polite" });
  const input = h("input", {
    type: "number",
    name: "precision",
    min: "0.5",
    max: "0.999",
    step: "0.001",
    value: "0.98",
    required: true,
  });
  const form = h(
    "form",
    { id: "accept-form", class: "inline" },
    h("label", {}, "precision ", input),
    h("button", { type: "submit", disabled: !active }, "Accept at precision"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const precision = Number(input.value);
    // A dry run first: the person sees what would be accepted and withdrawn before anything is stored.
    run(
      api("/api/accept", { json: { precision, dry_run: true } }).then((dry) => {
        const report = /** @type {AcceptReport} */ (dry);
        shown.replaceChildren(...reportNodes(report));
        const question = `Accept ${report.accepted} labels of ${report.suggested} suggestions at precision ${precision}?`;
        if (report.accepted > 0 || report.classes.some((c) => c.withdrawn > 0)) {
          if (confirm(question)) {
            return api("/api/accept", { json: { precision } }).then((done) =>
              shown.replaceChildren(...reportNodes(/** @type {AcceptReport} */ (done))),
            );
          }
        }
        return undefined;
      }),
    );
  });
  return [form, shown];
}

/** @param {AcceptReport} report */
function reportNodes(report) {
  const check = report.check;
  const summary = check?.certified
    ? `${report.dry_run ? "Would accept" : "Accepted"} ${report.accepted} of ${report.suggested} suggestions at calibrated confidence ≥ ${check.threshold}: precision at least ${Number(check.bound).toFixed(3)} with 95% confidence (${check.checked - check.wrong} of ${check.checked} check answers agree).`
    : check
      ? `Nothing accepted: the held-out answers cannot certify it; the ${check.size} suggestions at calibrated confidence ≥ ${check.threshold} can be checked: ${check.checked - check.wrong} of ${check.checked} check answers agree, ${check.more_needed === null || check.more_needed === undefined ? "and no number of check answers would certify them" : `${check.more_needed} more are needed (the review queue asks for them, reason check${report.dry_run ? ", once accept runs without the dry run" : ""})`}.`
      : report.threshold === null || report.threshold === undefined
        ? `Nothing accepted: ${report.right} of ${report.held_out} held-out answers right at the highest confidences; at least ${report.more_needed} more held-out answers (all right) are needed.`
        : `${report.dry_run ? "Would accept" : "Accepted"} ${report.accepted} of ${report.suggested} suggestions at calibrated confidence ≥ ${report.threshold}: precision at least ${Number(report.bound).toFixed(3)} with 95% confidence (${report.right} of ${report.held_out} held-out answers right).`;
  const columns = ["class", "accepted", "right / held out", "bound", "needs", "kept", "newly accepted", "withdrawn", "changed"];
  return [
    h("p", {}, summary),
    h(
      "table",
      { class: "accept stack" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          columns.map((c) => h("th", { scope: "col" }, c)),
        ),
      ),
      h(
        "tbody",
        {},
        report.classes.map((c) =>
          h(
            "tr",
            { "data-class": c.label },
            h("td", {}, c.label),
            h("td", {}, c.accepted),
            h("td", {}, `${c.right} / ${c.held_out}`),
            h("td", {}, c.bound === null || c.bound === undefined ? "" : c.bound.toFixed(3)),
            h("td", {}, c.more_needed ? `${c.more_needed} more answers` : ""),
            h("td", {}, c.kept),
            h("td", {}, c.newly_accepted),
            h("td", {}, c.withdrawn),
            h("td", {}, c.changed),
          ),
        ),
      ),
    ),
  ];
}
