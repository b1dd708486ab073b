// Numbers and times as people read them, in the browser's locale and time zone.

const numbers = new Intl.NumberFormat();
export const num = (n) => numbers.format(Number(n) || 0);

export function pct(part, whole) {
  if (!whole) return "–";
  if (!part) return "0 %";
  return `${(100 * part / whole).toFixed(part / whole < 0.1 ? 1 : 0)} %`;
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
export function when(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : dateTime.format(d);
}

const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const clockSeconds = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const day = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });
const dayTime = new Intl.DateTimeFormat(undefined,
  { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });

/** A time label fitting the chart's span. */
export function tick(ms, spanSeconds) {
  const d = new Date(ms);
  if (spanSeconds <= 6 * 3600) return clock.format(d);
  if (spanSeconds <= 3 * 86400) return dayTime.format(d);
  return day.format(d);
}

export const timeOfDay = (d = new Date()) => clockSeconds.format(d);

export const timeZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone || "local time";

const BUCKETS = { 60: "minute", 300: "5 minutes", 900: "15 minutes", 3600: "hour", 21600: "6 hours",
                  86400: "day", 604800: "week" };
export const bucketName = (seconds) => BUCKETS[seconds] || `${num(seconds)} seconds`;
