// The mobilabel review page: jobs, one job, the review queue, likely mistakes, duplicates, more like
// this, gallery with keyboard review, one image, models.
// Plain DOM modules, no framework and no build step; every view is a URL (?view=...&filters) and
// every datum comes from /api. This module picks the view, marks the nav, and shows the banner
// when the server cannot serve images.

import { ApiError, meta, onUnauthorized } from "./lib/api.js";
import { h, say } from "./lib/dom.js";
import { showLogin } from "./lib/login.js";
import { showFailure } from "./lib/widgets.js";
import { showDuplicates } from "./views/duplicates.js";
import { showGallery } from "./views/gallery.js";
import { showImage } from "./views/image.js";
import { showJob } from "./views/job.js";
import { showJobs } from "./views/jobs.js";
import { showMistakes } from "./views/mistakes.js";
import { showModels } from "./views/models.js";
import { showQueue } from "./views/queue.js";
import { showSimilar } from "./views/similar.js";

/** @typedef {import("mobilabel-api").Meta} Meta */
/** @typedef {(main: HTMLElement, params: URLSearchParams, meta: Meta) => Promise<void>} View */

/** @type {Record<string, View>} */
const VIEWS = {
  jobs: showJobs,
  job: showJob,
  queue: showQueue,
  mistakes: showMistakes,
  duplicates: showDuplicates,
  similar: showSimilar,
  gallery: showGallery,
  image: showImage,
  models: showModels,
};

/** @param {Meta} facts */
function showBanner(facts) {
  const banner = /** @type {HTMLElement} */ (document.getElementById("banner"));
  if (facts.allowed_roots_set) return;
  banner.append(
    h(
      "p",
      {},
      h("strong", {}, "Images are off. "),
      "This server was started without ",
      h("code", {}, "MOBILABEL_ALLOWED_ROOTS"),
      ", so it shows no image and labels no folder. Set it to the folders that hold your images and start ",
      h("code", {}, "mobilabel serve"),
      " again.",
    ),
  );
  banner.hidden = false;
}

async function start() {
  const main = /** @type {HTMLElement} */ (document.getElementById("main"));
  const params = new URLSearchParams(location.search);
  const name = params.get("view") || "jobs";
  document.querySelector(`nav a[data-view="${name}"]`)?.setAttribute("aria-current", "page");
  onUnauthorized(() => showLogin(main));
  try {
    const facts = await meta();
    showBanner(facts);
    const view = VIEWS[name];
    if (!view) throw new ApiError(404, `there is no view "${name}": choose one of ${Object.keys(VIEWS).join(", ")}`);
    await view(main, params, facts);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return; // the login form is showing
    const message = /** @type {Error} */ (error).message;
    say(message, true);
    showFailure(main, message);
  }
}

start();
