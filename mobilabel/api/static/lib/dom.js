// DOM helpers: build elements (text is always text, never HTML), change only what differs, keep
// keyed lists (table rows, tiles) in place across refreshes, and the status line.
// No inline styles anywhere: the page runs under Content-Security-Policy default-src 'self'.

/**
 * @typedef {string | number | boolean | null | undefined | ((event: any) => void)} AttrValue
 * @typedef {Node | string | number | null | undefined | false} Child
 */

/**
 * h("a", {href: "x", onclick: f}, "text", child...): an element. `on...` attributes add listeners;
 * true sets a boolean attribute, false/null/undefined leave it out.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, AttrValue>} [attrs]
 * @param {...(Child | Child[])} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === "function") el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  el.append(...nodes(children));
  return el;
}

/** @param {(Child | Child[])[]} children @returns {(Node | string)[]} */
function nodes(children) {
  return children
    .flat()
    .flatMap((child) =>
      child === null || child === undefined || child === false ? [] : [child instanceof Node ? child : String(child)],
    );
}

/** Replace an element's children (the same rules as h's). @param {Element} el @param {...(Child | Child[])} children */
export function fill(el, ...children) {
  el.replaceChildren(...nodes(children));
}

/** Set text only when it differs, so an unchanged cell is not touched. @param {Element} el @param {string | number} text */
export function setText(el, text) {
  const wanted = String(text);
  if (el.textContent !== wanted) el.textContent = wanted;
}

/** @param {Element} el @param {string} name @param {string | number | null} value null removes it */
export function setAttr(el, name, value) {
  if (value === null) el.removeAttribute(name);
  else if (el.getAttribute(name) !== String(value)) el.setAttribute(name, String(value));
}

/**
 * Make `parent`'s children one element per item, in order, keeping the element of every key it
 * already shows (so focus, selection and anything a reader is looking at stay): new keys get
 * `create`, every element gets `update`, keys gone are removed.
 * @template T
 * @template {HTMLElement} E
 * @param {HTMLElement} parent holds only these keyed children
 * @param {T[]} items
 * @param {(item: T) => string | number} keyOf
 * @param {(item: T) => E} create
 * @param {(el: E, item: T) => void} update
 */
export function syncKeyed(parent, items, keyOf, create, update) {
  /** @type {Map<string, E>} */
  const shown = new Map();
  for (const child of parent.children) shown.set(/** @type {E} */ (child).dataset.key || "", /** @type {E} */ (child));
  /** @type {Element | null} */
  let previous = null;
  for (const item of items) {
    const key = String(keyOf(item));
    let el = shown.get(key);
    if (el) shown.delete(key);
    else {
      el = create(item);
      el.dataset.key = key;
    }
    update(el, item);
    /** @type {Element | null} */
    const there = previous ? previous.nextElementSibling : parent.firstElementChild;
    if (there !== el) parent.insertBefore(el, there);
    previous = el;
  }
  for (const el of shown.values()) el.remove();
}

/** The status line in the header: what just happened, or what went wrong. @param {string} message @param {boolean} [isError] */
export function say(message, isError = false) {
  const line = document.getElementById("status");
  if (!line) return;
  line.textContent = message;
  line.classList.toggle("error", isError);
}

/** Run a promise for its effect; its error, if any, goes to the status line. @param {Promise<unknown>} promise */
export function run(promise) {
  promise.catch((/** @type {Error} */ error) => say(error.message, true));
}
