/**
 * Names unique to a run, for topics, consumer groups and databases: suites and runs of
 * different people on one broker and one server never meet.
 */

/** `prefix_<time>_<random>` in base 36; anything but letters, digits and `_` becomes `separator`. */
export const uniqueName = (prefix: string, separator: "_" | "-" = "_") =>
  `${prefix}${separator}${Date.now().toString(36)}${separator}${Math.floor(Math.random() * 1e6).toString(36)}`.replace(
    separator === "_" ? /[^a-zA-Z0-9_]/g : /[^a-zA-Z0-9_.-]/g,
    separator,
  )
