/* fuzz_tokenize: the spam tokenizer on arbitrary messages: every token
 * within TOKENIZE_TOKEN_MAX, at most TOKENIZE_TOKENS_MAX of them, and the
 * same input gives the same tokens twice (determinism). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "tokenize.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tokenize *t;
	size_t i, n, len;
	uint64_t last = 0;

	if (t == NULL)
		t = tokenize_new();
	tokenize_message(t, data, size);
	n = tokenize_count(t);
	if (n > TOKENIZE_TOKENS_MAX)
		abort();
	for (i = 0; i < n; i++) {
		(void)tokenize_token(t, i, &len);
		if (len == 0 || len > TOKENIZE_TOKEN_MAX)
			abort();
	}
	if (n > 0)
		last = tokenize_token_hash(t, n - 1);
	tokenize_message(t, data, size);
	if (tokenize_count(t) != n ||
	    (n > 0 && tokenize_token_hash(t, n - 1) != last))
		abort();
	return 0;
}
