/**
 * The proxy's settings that are no flag (docs/architecture.md §7): the secret key of the
 * consumer hash. A secret, so `Config.redacted`, never logged and never a flag (flags show up in
 * process listings).
 */
import { Config } from "effect"

/** `PROXY_CONSUMER_KEY`: the HMAC key of the consumer hash; required with a consumer header. */
export const consumerKey = Config.option(Config.redacted("PROXY_CONSUMER_KEY"))
