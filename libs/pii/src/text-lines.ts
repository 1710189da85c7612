/**
 * Where lines end: a line feed, or its JSON escape (a backslash and `n`): a prompt is recorded as
 * the JSON of its messages, one line whose every line is also a line of the plain prompt text, so
 * that its passages and system text are the same lines from one request to the next.
 */
const LINE_BREAK = /\n|\\n/g;

/**
 * Calls `visit` with the [start, end) code-unit range of each line of `text`, in order, the last
 * line (after the last break, possibly empty) included; a line ends at a line feed or at an
 * escaped one (`\n` inside a JSON string). The break itself belongs to no line.
 */
export function forEachLine(text: string, visit: (start: number, end: number) => void): void {
  let lineStart = 0;
  for (const lineBreak of text.matchAll(LINE_BREAK)) {
    visit(lineStart, lineBreak.index);
    lineStart = lineBreak.index + lineBreak[0].length;
  }
  visit(lineStart, text.length);
}
