// The API client: one JSON call (api), the server's facts (meta), and why an image did not load.
// Every error becomes an ApiError whose message is the server's one-line detail.

import { errorDetail } from "./errors.js";

/** @typedef {import("mobilabel-api").Meta} Meta */

export class ApiError extends Error {
  /** @param {number} status HTTP status (0: no answer) @param {string} detail one line */
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

/** @type {() => void} */
let unauthorized = () => {};

/** @param {() => void} handler called when the API answers 401 (the page shows its login form) */
export function onUnauthorized(handler) {
  unauthorized = handler;
}

/**
 * @typedef {object} CallOptions
 * @property {string} [method] default GET, or POST when `json` is given
 * @property {unknown} [json] the request body, sent as JSON
 */

/**
 * One call to the API with the page's session cookie; JSON in and out.
 * @param {string} path e.g. "/api/jobs?limit=200"
 * @param {CallOptions} [options]
 * @returns {Promise<any>} the parsed answer (null for 204); its shape is the endpoint's, typed by the caller
 * @throws {ApiError} for any answer that is not 2xx, with the server's detail
 */
export async function api(path, options = {}) {
  /** @type {RequestInit} */
  const init = { method: options.method || (options.json === undefined ? "GET" : "POST"), credentials: "same-origin" };
  if (options.json !== undefined) {
    init.body = JSON.stringify(options.json);
    init.headers = { "Content-Type": "application/json" };
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, "the server did not answer: is `mobilabel serve` running?");
  }
  if (response.status === 401 && path !== "/api/session") {
    unauthorized();
    throw new ApiError(401, "this server needs a token: log in");
  }
  if (!response.ok) throw new ApiError(response.status, await detailOf(response));
  return response.status === 204 ? null : response.json();
}

/** @param {Response} response @returns {Promise<string>} */
async function detailOf(response) {
  const fallback = `${response.status} ${response.statusText}`.trim();
  try {
    return errorDetail(await response.json(), fallback);
  } catch {
    return fallback; // not JSON
  }
}

/** @type {Promise<Meta> | null} */
let metaOnce = null;

/** @returns {Promise<Meta>} this server's state names, defaults and settings, asked once per page */
export function meta() {
  metaOnce ??= api("/api/meta");
  return metaOnce;
}

/**
 * Why an image URL does not load: the server's detail (403 with no allowed roots, 404 for a file
 * gone, 422 for one that cannot be decoded), asked again because <img> does not tell.
 * @param {string} url
 * @returns {Promise<string>}
 */
export async function imageFailure(url) {
  try {
    const response = await fetch(url, { credentials: "same-origin" });
    if (response.ok) return "the image loaded on a second try: reload the page";
    return await detailOf(response);
  } catch {
    return "the server did not answer";
  }
}
