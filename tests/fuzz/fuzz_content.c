/* fuzz_content: libFuzzer target for content_scan (MIME walk, transfer
 * decoding, zip central directory and local headers, inflate). The
 * input is a message; small limits keep each run fast while still
 * reaching every stop. Checks the result's invariants: counts within
 * the limits, names NUL-terminated, sizes adding up, and the work: the
 * archive octets read (ci->work, the inflater's input) never exceed the
 * octets of the archives themselves, which are all decoded parts or
 * members, so a scan costs time linear in what it decoded (members
 * sharing octets, or a stream inflating to nothing, would break this). */
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
	uint64_t *work = ctx;
	struct zip_read rd;

	memset(&rd, 0, sizeof(rd));
	rd.max_out = FUZZ_DECODED_MAX;
	rd.max_in = UINT64_MAX;
	if (zip_member_read(m, &rd, sink, NULL) == 0 &&
	    rd.out > FUZZ_DECODED_MAX)
		abort();
	*work += rd.in;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct content_limits lim = { FUZZ_DECODED_MAX, 6, 200, true };
	struct content_info *ci;
	uint64_t sum = 0, work = 0;
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
	if (ci->work > ci->decoded_total ||
	    ci->work > CONTENT_WORK_FACTOR * (uint64_t)lim.max_decoded)
		abort();
	content_info_free(ci);
	/* the input as a bare zip too: no budget for the archive octets,
	 * so only the walk bounds them, by the input's size */
	(void)zip_walk(copy, size, member, &work);
	if (work > size)
		abort();
	free(copy);
	return 0;
}
