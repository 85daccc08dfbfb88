/* tokenize: turns one message (network input) into the set of tokens the
 * Bayesian filter (bayes.h) counts. Headers give prefixed tokens
 * ("subject:free", "from:dom:example.com", "rcvd:ip:192.0.2", ...), the
 * decoded text parts give words (lower-case ASCII, other octets kept as
 * they are, whatever the charset), HTML gives its words and "url:HOST"
 * for the hosts it links to, and a few "special:" tokens describe the
 * shape of the message (runs of '!', an all-caps subject, HTML without a
 * text part, ...).
 *
 * The result is a set: a token appears once however often the message
 * has it. Everything is bounded by the limits below and deterministic
 * (the same octets always give the same tokens in the same order). The
 * tokens live in a table inside struct tokenize, which is reused from
 * message to message: nothing is allocated per token. Headers written by
 * the filter itself (X-Spam-*) are never tokenized, so a message moved
 * out of Junk does not teach the filter its own verdict. */
#ifndef MOAT_TOKENIZE_H
#define MOAT_TOKENIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TOKENIZE_TOKEN_MAX	64	/* octets of a token, prefix included */
#define TOKENIZE_TOKENS_MAX	4000	/* distinct tokens per message */
#define TOKENIZE_TEXT_MAX	(512 * 1024)	/* decoded text per message */
#define TOKENIZE_PARTS_MAX	100	/* MIME parts looked at */
#define TOKENIZE_RECEIVED_MAX	8	/* Received fields looked at */
#define TOKENIZE_ADDRS_MAX	50	/* addresses per address field */
#define TOKENIZE_WORD_MIN	3	/* shorter body words are dropped */
#define TOKENIZE_WORD_MAX	12	/* longer ones become "skip:" tokens */

struct tokenize;

struct tokenize *tokenize_new(void);
void tokenize_free(struct tokenize **t);

/* Tokenize len octets (a whole message, CRLF or LF line ends). The
 * previous message's tokens are dropped. Never fails: malformed input
 * gives what can be read, and input past the limits is ignored
 * (tokenize_truncated() tells). */
void tokenize_message(struct tokenize *t, const uint8_t *msg, size_t len);

/* The tokens of the last message: count, then each token's octets (not
 * NUL-terminated; 1..TOKENIZE_TOKEN_MAX of them) and its 64-bit hash (the
 * same function as tokenize_hash()). i < tokenize_count(). */
size_t tokenize_count(const struct tokenize *t);
const uint8_t *tokenize_token(const struct tokenize *t, size_t i,
    size_t *len_r);
uint64_t tokenize_token_hash(const struct tokenize *t, size_t i);
/* True when the last message hit a limit (tokens, text, parts). */
bool tokenize_truncated(const struct tokenize *t);

/* The hash used for tokens (64-bit FNV-1a). */
uint64_t tokenize_hash(const uint8_t *p, size_t len);

#endif
