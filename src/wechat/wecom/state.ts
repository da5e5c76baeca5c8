// Fresh contact-way state tokens: random, opaque, and free of digits so they can never pass for personal data.
import { randomInt } from 'node:crypto';

/** Letters only: 20 of 26 is 94 bits, and a state without digits never looks like a card or phone number. */
const STATE_ALPHABET = 'abcdefghijklmnopqrstuvwxyz';
export const GENERATED_STATE_CHARS = 20;

/** A new state for add_contact_way; the caller maps it to its context (a bill, an order) in its own table. */
export function newContactWayState(): string {
  let s = '';
  for (let i = 0; i < GENERATED_STATE_CHARS; i++) s += STATE_ALPHABET[randomInt(STATE_ALPHABET.length)];
  return s;
}
