// Pure: the classes an answer may name on the page, from the server's classes and versions.

/** @typedef {import("mobilabel-api").Version} Version */
/** @typedef {import("mobilabel-api").Class} Class */

/**
 * Your classes: the active ones of GET /api/classes and those the active version was trained on,
 * unless it is ImageNet's (whose 1,000 are not yours) or the class is retired; each once, in that order.
 * @param {Pick<Version, "active" | "imagenet" | "classes">[]} versions
 * @param {Pick<Class, "name" | "state">[]} classes
 * @returns {string[]}
 */
export function ownClasses(versions, classes) {
  const active = versions.find((v) => v.active);
  const retired = new Set(classes.filter((c) => c.state === "retired").map((c) => c.name));
  const trained = active && !active.imagenet ? active.classes : [];
  return [
    ...new Set([...classes.filter((c) => c.state === "active").map((c) => c.name), ...trained.filter((c) => !retired.has(c))]),
  ];
}
