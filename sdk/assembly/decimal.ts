// Unsigned decimal text for the SDK's messages and names. `u32#toString()` would link the
// stdlib's every-radix formatter and its error strings (about 400 bytes in each plugin).

/** `n` in decimal. */
export function decimal(n: u32): string {
  let s = "";
  do {
    s = String.fromCharCode(48 + <i32>(n % 10)) + s;
    n /= 10;
  } while (n);
  return s;
}
