/**
 * `text` cut to its first `maxChars`, marked when cut (`… (N characters cut)` after `separator`).
 * What a person sent can be any size: a record, a refusal or an error quoting it stays readable
 * and never carries the whole of it into a run's status, history or logs.
 */
export function cutHead(text: string, maxChars: number, separator = ' '): string {
  return text.length <= maxChars
    ? text
    : `${text.slice(0, maxChars)}${separator}… (${text.length - maxChars} characters cut)`;
}
