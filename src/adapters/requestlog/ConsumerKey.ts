/**
 * The consumer of a request named by an API key, stored only as a short keyed hash
 * (docs/architecture.md §3): HMAC-SHA256 of the key under the logger's secret, its first 96 bits
 * in base64url, prefixed `k_` (18 characters). Without the secret the hash cannot be tested
 * against guessed keys; with it, one key always gives the same consumer.
 */
import { createHmac } from "node:crypto"

export const CONSUMER_HASH_PREFIX = "k_"

/** The short keyed hash of an API key. */
export const hashConsumerKey = (secret: string, key: string): string =>
  CONSUMER_HASH_PREFIX +
  createHmac("sha256", secret).update(key).digest().subarray(0, 12).toString("base64url")
