// Pure: a cross table (a version comparison's flips, a confusion matrix) from its non-empty cells.

/**
 * @template {string} R
 * @template {string} C
 * @param {Array<Record<R | C, string> & { images: number }>} cells
 * @param {R} rowKey
 * @param {C} colKey
 * @returns {{ rows: string[], cols: string[], count: (row: string, col: string) => number }} sorted headings; 0 for an empty cell
 */
export function crossCounts(cells, rowKey, colKey) {
  const rows = [...new Set(cells.map((c) => c[rowKey]))].sort();
  const cols = [...new Set(cells.map((c) => c[colKey]))].sort();
  const counts = new Map(cells.map((c) => [`${c[rowKey]}\u0000${c[colKey]}`, c.images]));
  return { rows, cols, count: (row, col) => counts.get(`${row}\u0000${col}`) || 0 };
}
