/* fuzz_content: libFuzzer target for content_scan (MIME walk, transfer
 * decoding, zip central directory and local headers, inflate). The
 * input is a message; small limits keep each run fast while still
 * reaching every stop. Checks the result's invariants: counts within
 * the limits, names NUL-terminated, sizes adding up. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "content.h"
#include "zip.h"

#define FUZZ_DECODED_MAX	(4u * 1024 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
sink(const uint8_t *p, size_t len, void *ctx)
{
	(void)p;
	(void)ctx;
	return len <= ZIP_WINDOW ? 0 : -1;
}

static int
member(const struct zip_member *m, void *ctx)
{
	uint64_t total;

	(void)ctx;
	if (zip_member_read(m, FUZZ_DECODED_MAX, sink, NULL, &total) == 0 &&
	    total > FUZZ_DECODED_MAX)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct content_limits lim = { FUZZ_DECODED_MAX, 6, 200, true };
	struct content_info *ci;
	uint64_t sum = 0;
	uint8_t *copy;
	size_t i;

	copy = malloc(size > 0 ? size : 1);
	if (copy == NULL)
		return 0;
	if (size > 0)
		memcpy(copy, data, size);
	ci = content_scan(copy, size, &lim);
	if (ci->nparts > lim.max_parts || ci->max_depth > lim.max_depth)
		abort();
	for (i = 0; i < ci->nparts; i++) {
		const struct content_part *p = &ci->parts[i];

		if (memchr(p->name, '\0', sizeof(p->name)) == NULL ||
		    memchr(p->detected, '\0', sizeof(p->detected)) == NULL ||
		    p->depth > lim.max_depth)
			abort();
		sum += p->size;
	}
	if (ci->limit == NULL && (sum != ci->decoded_total ||
	    sum > lim.max_decoded))
		abort();
	content_info_free(ci);
	/* the input as a bare zip too */
	(void)zip_walk(copy, size, member, NULL);
	free(copy);
	return 0;
}
