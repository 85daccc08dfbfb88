/* fuzz_content: libFuzzer target for content_scan (MIME walk, transfer
 * decoding, zip central directory and local headers, inflate, gzip and
 * tar read as they stream). The input is a message, and again the body
 * of a message without headers (so a bare gzip or tar is opened); small
 * limits keep each run fast while still reaching every stop. Checks the
 * result's invariants: counts within the limits, names NUL-terminated,
 * sizes adding up, and the work: the archive octets read (ci->work, the
 * inflaters' input) never exceed the octets of the archives themselves,
 * which are all decoded parts or members, so a scan costs time linear
 * in what it decoded (members sharing octets, or a stream inflating to
 * nothing, would break this). The input is also read directly as a zip,
 * a gzip and a tar (the tar in two pieces, split where the first octet
 * says): windows within their bounds, a tar file's octets within its
 * declared size and the input, every begin ended once. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "content.h"
#include "gzip.h"
#include "tar.h"
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

static void
check_scan(const uint8_t *msg, size_t size)
{
	struct content_limits lim = { FUZZ_DECODED_MAX, 6, 200, true };
	struct content_info *ci;
	uint64_t sum = 0;
	size_t i;

	ci = content_scan(msg, size, &lim);
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
}

/* The gzip sink: windows within bounds, stops at the cap. */
static int
gz_sink(const uint8_t *p, size_t len, void *ctx)
{
	uint64_t *out = ctx;

	(void)p;
	if (len == 0 || len > GZIP_WINDOW)
		abort();
	*out += len;
	return *out > FUZZ_DECODED_MAX ? -1 : 0;
}

struct tar_check {
	bool		 open;
	uint64_t	 declared;
	uint64_t	 got;
	uint64_t	 total;
};

static int
t_begin(const struct tar_entry *e, void *ctx)
{
	struct tar_check *tc = ctx;

	if (tc->open || memchr(e->name, '\0', sizeof(e->name)) == NULL)
		abort();
	tc->open = true;
	tc->declared = e->size;
	tc->got = 0;
	return 0;
}

static int
t_data(const uint8_t *p, size_t len, void *ctx)
{
	struct tar_check *tc = ctx;

	(void)p;
	if (!tc->open || len == 0)
		abort();
	tc->got += len;
	tc->total += len;
	return tc->got > tc->declared ? -1 : 0;
}

static int
t_end(bool whole, void *ctx)
{
	struct tar_check *tc = ctx;

	if (!tc->open || (whole && tc->got != tc->declared))
		abort();
	tc->open = false;
	return 0;
}

static const struct tar_ops t_ops = { t_begin, t_data, t_end };

static void
check_readers(const uint8_t *data, size_t size)
{
	struct gzip_reader *gz = gzip_new();
	struct tar_reader *t = tar_new();
	struct tar_check tc;
	uint64_t out = 0;
	size_t split;

	(void)gzip_feed(gz, data, size, gz_sink, &out);
	(void)gzip_finish(gz);
	if (gzip_in(gz) > size ||
	    memchr(gzip_name(gz), '\0', GZIP_NAME_MAX) == NULL)
		abort();
	gzip_free(&gz);
	memset(&tc, 0, sizeof(tc));
	split = size > 0 ? data[0] * (size / 256 + 1) : 0;
	if (split > size)
		split = size;
	if (tar_feed(t, data, split, &t_ops, &tc) < 0 ||
	    tar_feed(t, data + split, size - split, &t_ops, &tc) < 0)
		abort();
	(void)tar_finish(t, &t_ops, &tc);
	if (tc.open || tc.total > size)
		abort();
	tar_free(&t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t work = 0;
	uint8_t *copy;

	/* room for the body-only form: an empty header section first */
	copy = malloc(size + 2);
	if (copy == NULL)
		return 0;
	memcpy(copy, "\r\n", 2);
	if (size > 0)
		memcpy(copy + 2, data, size);
	check_scan(copy + 2, size);
	check_scan(copy, size + 2);
	/* the input as a bare zip too: no budget for the archive octets,
	 * so only the walk bounds them, by the input's size */
	(void)zip_walk(copy + 2, size, member, &work);
	if (work > size)
		abort();
	check_readers(copy + 2, size);
	free(copy);
	return 0;
}
