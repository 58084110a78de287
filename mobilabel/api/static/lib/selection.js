// Pure: the gallery's selection. A click toggles one image and makes it the anchor; a
// shift-click adds everything from the anchor to it, in the order shown.

/**
 * @param {Set<number>} selected ids selected now (not changed)
 * @param {number[]} order the ids in the order shown
 * @param {number} id the one clicked
 * @param {boolean} range shift held
 * @param {number | null} anchor the last one clicked without shift
 * @returns {{ selected: Set<number>, anchor: number | null }}
 */
export function select(selected, order, id, range, anchor) {
  const next = new Set(selected);
  if (range && anchor !== null && order.includes(anchor)) {
    const [from, to] = [order.indexOf(anchor), order.indexOf(id)].sort((x, y) => x - y);
    for (const each of order.slice(from, to + 1)) next.add(each);
    return { selected: next, anchor };
  }
  if (next.has(id)) next.delete(id);
  else next.add(id);
  return { selected: next, anchor: id };
}
