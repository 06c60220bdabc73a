/**
 * Whether a marketplace offers an update: versions are compared as dotted numbers when both look
 * like semver (`1.2.10` > `1.2.9`; a pre-release is older than its release), and otherwise any
 * difference counts as an update, since an author may use dates or build ids.
 *
 * @module
 */

const SEMVER = /^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/;

/** Whether `offered` should replace `installed`. */
export function isUpdate(offered: string, installed: string): boolean {
  const a = offered.match(SEMVER);
  const b = installed.match(SEMVER);
  if (!a || !b) return offered !== installed;
  for (let i = 1; i <= 3; i++) {
    const diff = Number(a[i]) - Number(b[i]);
    if (diff !== 0) return diff > 0;
  }
  const [preA, preB] = [a[4], b[4]];
  if (preA === preB) return false;
  if (preA === undefined) return true; // 1.0.0 after 1.0.0-beta
  if (preB === undefined) return false;
  return preA.localeCompare(preB, "en", { numeric: true }) > 0;
}
