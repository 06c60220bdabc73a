/** The WSTun version shown on the info page and in `/_api/stats`. */
export const VERSION = "0.1.0";
