// Who answers: a name asked once and kept in this browser (localStorage), sent with every answer so
// the answer history says who gave it, and the review queue leases per reviewer.

const KEY = "mobilabel.reviewer";

/** @returns {string | null} the name kept in this browser, if one was given */
export function savedReviewer() {
  try {
    return localStorage.getItem(KEY) || null;
  } catch {
    return null; // storage refused (a private window's policy): the server's MOBILABEL_REVIEWER answers
  }
}

/** @param {string} name */
export function saveReviewer(name) {
  try {
    localStorage.setItem(KEY, name);
  } catch {
    // kept for this page only: asked again next time
  }
}
