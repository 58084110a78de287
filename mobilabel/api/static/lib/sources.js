// Pure: where the gallery's images come from, by its URL: one flip of a version comparison, one
// cell of a confusion matrix, or the results filters.

/**
 * @typedef {object} Source
 * @property {string} title
 * @property {boolean} byId pages by ?after=<last id> (lists of rows) rather than ?cursor= (a ResultPage)
 * @property {string} path the endpoint with its query, without paging
 */

/**
 * @param {URLSearchParams} params the page's URL query
 * @param {string[]} filters the names of /api/results' filters
 * @returns {Source}
 */
export function gallerySource(params, filters) {
  const get = (/** @type {string} */ name) => params.get(name) || "";
  if (get("a") && get("b")) {
    const query = new URLSearchParams({ a: get("a"), b: get("b"), label_a: get("label_a"), label_b: get("label_b") });
    return { title: `Flip ${get("label_a")} → ${get("label_b")}`, byId: true, path: `/api/models/compare/images?${query}` };
  }
  if (get("confusion")) {
    const query = new URLSearchParams({ verified: get("verified"), predicted: get("predicted") });
    return {
      title: `Verified ${get("verified")}, predicted ${get("predicted")}`,
      byId: true,
      path: `/api/models/${encodeURIComponent(get("confusion"))}/confusion/images?${query}`,
    };
  }
  const search = new URLSearchParams();
  for (const key of filters) if (get(key)) search.set(key, get(key));
  return { title: "Gallery", byId: false, path: `/api/results?${search}` };
}

/**
 * The request for the next page of a source.
 * @param {Source} source
 * @param {number} size images per page
 * @param {number | null} lastId the last image shown (byId sources)
 * @param {string | null} cursor the previous page's next_cursor (filter sources)
 * @returns {string}
 */
export function pageRequest(source, size, lastId, cursor) {
  if (source.byId) return `${source.path}&limit=${size}&after=${lastId ?? 0}`;
  return `${source.path}&limit=${size}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
}
