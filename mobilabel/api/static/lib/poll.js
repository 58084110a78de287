// Follow something that changes on the server: load it every second while `more` says it is not
// done, waiting while the tab is hidden. A refusal (4xx) ends the loop; a passing failure (no
// answer, 5xx: a restart) is said and tried again.

import { ApiError } from "./api.js";
import { say } from "./dom.js";

const INTERVAL_MS = 1000;

/**
 * @template T
 * @param {() => Promise<T>} load
 * @param {(value: T) => void} apply paints what changed
 * @param {(value: T) => boolean} more whether to keep following after this value
 * @returns {{ now: () => void, stop: () => void }} now(): load at once and follow (after the user started something)
 */
export function poll(load, apply, more) {
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  let stopped = false;
  let loading = false;
  let waiting = false; // for the tab to be shown again
  let again = false; // now() was asked while a load was under way: its answer may predate what changed

  async function tick() {
    clearTimeout(timer);
    if (loading) again = true;
    if (stopped || loading) return;
    if (document.hidden) {
      if (!waiting) document.addEventListener("visibilitychange", shown, { once: true });
      waiting = true;
      return;
    }
    loading = true;
    try {
      const value = await load();
      apply(value);
      if (more(value)) timer = setTimeout(tick, INTERVAL_MS);
    } catch (error) {
      say(/** @type {Error} */ (error).message, true);
      const refused = error instanceof ApiError && error.status >= 400 && error.status < 500;
      if (!refused) timer = setTimeout(tick, INTERVAL_MS);
    } finally {
      loading = false;
      if (again) {
        again = false;
        tick();
      }
    }
  }

  function shown() {
    waiting = false;
    tick();
  }

  return {
    now() {
      stopped = false;
      tick();
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
