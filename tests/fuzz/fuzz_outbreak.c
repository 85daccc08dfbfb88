/* fuzz_outbreak: libFuzzer target for outbreak fingerprints. The input is
 * a message: its fingerprint is computed twice (it must be the same: all
 * workers must agree), keys are checked (non-zero, known kinds, at most
 * OUTBREAK_KEYS_MAX), the normaliser runs over the raw octets with its
 * output checked (lower-case words, single spaces), and the key text
 * round-trips through outbreak_key_parse. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "outbreak.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_norm(const uint8_t *data, size_t size)
{
	struct buf out;
	long n;
	size_t i, words = 0;

	buf_init(&out, OUTBREAK_TEXT_MAX);
	n = outbreak_normalise(data, size, &out);
	if (n < -1 || n > OUTBREAK_WORDS_MAX)
		abort();
	for (i = 0; n >= 0 && i < out.len; i++) {
		uint8_t c = out.data[i];

		if (c >= 'A' && c <= 'Z')
			abort();
		if (c == ' ' && (i == 0 || out.data[i - 1] == ' '))
			abort();
		if (c != ' ' && (i == 0 || out.data[i - 1] == ' '))
			words++;
	}
	if (n >= 0 && words != (size_t)n)
		abort();
	buf_deinit(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outbreak_fp a, b;
	char text[OUTBREAK_KEY_TEXT];
	uint64_t k;
	size_t i;

	outbreak_fingerprint(data, size, &a);
	outbreak_fingerprint(data, size, &b);
	if (a.nkeys != b.nkeys || a.nkeys > OUTBREAK_KEYS_MAX ||
	    memcmp(a.keys, b.keys, a.nkeys * sizeof(a.keys[0])) != 0)
		abort();
	for (i = 0; i < a.nkeys; i++) {
		if (a.keys[i] == 0 || (a.kinds[i] != OUTBREAK_TEXT &&
		    a.kinds[i] != OUTBREAK_ATTACHMENT))
			abort();
		outbreak_key_format(a.kinds[i], a.keys[i], text, sizeof(text));
		if (outbreak_key_parse(text, &k) != 0 || k != a.keys[i])
			abort();
	}
	check_norm(data, size);
	return 0;
}
