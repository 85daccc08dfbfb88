/* fuzz_smtp_data: libFuzzer target for the DATA/BDAT reader
 * (src/smtp/smtp_data.c). Input byte 0 picks the split position, byte 1
 * the limits; the rest is fed in two pieces in DOT and in RAW mode.
 * Checks the invariants (consumed <= len, out within its max, done only
 * right after CRLF "." CRLF) and compares every result with a plain
 * byte-at-a-time model of the same rules, so the fast paths of the real
 * reader cannot drift from the specification. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "smtp_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_HDR 2		/* split byte, limits byte */
#define CHECK(x) do { if (!(x)) abort(); } while (0)

/* The model: one byte per step, no spans, no memchr. */
enum { M_BOL, M_DOT, M_DOT_CR, M_TEXT, M_CR };

struct model {
	bool		 raw;
	uint64_t	 limit;		/* content size limit (incl out max) */
	size_t		 line_max;	/* content octets per line */
	int		 state;
	size_t		 line_len;
	uint64_t	 size;
	enum smtp_data_error error;
	bool		 done;
	uint8_t		*out;
	size_t		 out_len;
};

static void
model_fail(struct model *m, enum smtp_data_error e)
{
	if (m->error == SMTP_DATA_OK)
		m->error = e;
}

static void
model_emit(struct model *m, uint8_t c)
{
	if (m->error == SMTP_DATA_OK)
		m->out[m->out_len++] = c;
}

/* Content octet c (not part of a stuffing dot or the terminator). */
static void
model_content(struct model *m, uint8_t c)
{
	if (m->error != SMTP_DATA_OK) {
		m->state = c == '\r' ? M_CR : M_TEXT;
		return;
	}
	if (c == '\r') {
		if (m->size >= m->limit) {
			model_fail(m, SMTP_DATA_TOO_BIG);
			m->state = M_CR;
			return;
		}
		m->size++;
		model_emit(m, c);
		m->state = M_CR;
		return;
	}
	m->state = M_TEXT;
	if (c == '\n')
		model_fail(m, SMTP_DATA_BARE_LF);
	else if (c == '\0')
		model_fail(m, SMTP_DATA_NUL);
	else if (m->size >= m->limit)
		model_fail(m, SMTP_DATA_TOO_BIG);
	else if (m->line_len >= m->line_max)
		model_fail(m, SMTP_DATA_LINE_TOO_LONG);
	else {
		m->size++;
		m->line_len++;
		model_emit(m, c);
	}
}

/* Returns false once the byte was not consumed (after the end). */
static bool
model_step(struct model *m, uint8_t c)
{
	if (m->done)
		return false;
	switch (m->state) {
	case M_BOL:
		if (c == '.')
			m->state = M_DOT;
		else
			model_content(m, c);
		break;
	case M_DOT:
		if (c == '\r')
			m->state = M_DOT_CR;
		else
			model_content(m, c);
		break;
	case M_DOT_CR:
		if (c == '\n') {
			m->done = true;
			break;
		}
		model_fail(m, SMTP_DATA_BARE_CR);
		model_content(m, c);
		break;
	case M_CR:
		if (c != '\n') {
			model_fail(m, SMTP_DATA_BARE_CR);
			model_content(m, c);
			break;
		}
		if (m->error == SMTP_DATA_OK) {
			if (m->size >= m->limit) {
				model_fail(m, SMTP_DATA_TOO_BIG);
			} else {
				m->size++;
				model_emit(m, c);
			}
		}
		m->line_len = 0;
		m->state = m->raw ? M_TEXT : M_BOL;
		break;
	default:
		model_content(m, c);
		break;
	}
	return true;
}

static void
run(enum smtp_data_mode mode, const uint8_t *in, size_t len, size_t cut,
    uint64_t max_size, size_t max_line, size_t out_max)
{
	struct smtp_data_reader r;
	struct model m;
	struct buf out;
	size_t n1, n2 = 0, consumed, i, mconsumed = 0;

	smtp_data_init(&r, mode, max_size, max_line);
	buf_init(&out, out_max);
	n1 = smtp_data_feed(&r, in, cut, &out);
	CHECK(n1 <= cut);
	CHECK(out.len <= out_max);
	if (!r.done) {
		CHECK(n1 == cut);
		n2 = smtp_data_feed(&r, in + cut, len - cut, &out);
		CHECK(n2 <= len - cut);
		CHECK(r.done || n2 == len - cut);
	}
	consumed = n1 + n2;
	CHECK(consumed <= len);
	CHECK(out.len <= out_max);
	CHECK(r.size <= max_size);
	if (mode == SMTP_DATA_RAW) {
		CHECK(!r.done && consumed == len);
		(void)smtp_data_finish(&r);
	}
	/* done only right after CRLF "." CRLF (the first line counts as
	 * following a CRLF). */
	if (r.done)
		CHECK((consumed == 3 && memcmp(in, ".\r\n", 3) == 0) ||
		    (consumed >= 5 &&
		    memcmp(in + consumed - 5, "\r\n.\r\n", 5) == 0));

	memset(&m, 0, sizeof(m));
	m.raw = mode == SMTP_DATA_RAW;
	m.state = m.raw ? M_TEXT : M_BOL;
	m.limit = max_size < out_max ? max_size : out_max;
	m.line_max = max_line - 2;
	m.out = malloc(len + 1);
	CHECK(m.out != NULL);
	for (i = 0; i < len && model_step(&m, in[i]); i++)
		mconsumed++;
	if (m.raw && m.error == SMTP_DATA_OK) {
		if (m.state == M_CR)
			m.error = SMTP_DATA_BARE_CR;
		else if (m.line_len > 0)
			m.error = SMTP_DATA_BARE_LF;
	}
	CHECK(mconsumed == consumed);
	CHECK(m.done == r.done);
	CHECK(m.error == r.error);
	if (r.error == SMTP_DATA_OK)
		CHECK(m.out_len == out.len &&
		    (out.len == 0 || memcmp(m.out, out.data, out.len) == 0));
	/* Strictness: accepted output never holds a bare CR or LF. */
	if (r.error == SMTP_DATA_OK)
		for (i = 0; i < out.len; i++)
			CHECK((out.data[i] != '\r' || i + 1 == out.len ||
			    out.data[i + 1] == '\n') && (out.data[i] != '\n' ||
			    (i > 0 && out.data[i - 1] == '\r')));
	free(m.out);
	buf_deinit(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *in = data + FUZZ_HDR;
	size_t len, cut;
	uint64_t max_size;
	size_t max_line, out_max;

	if (size < FUZZ_HDR)
		return 0;
	len = size - FUZZ_HDR;
	cut = len == 0 ? 0 : data[0] % (len + 1);
	/* Small limits so that the fuzzer reaches them: line 3..66,
	 * size and out max 1..256 or 1000/1 MiB. */
	max_line = 3 + (data[1] & 0x3f);
	max_size = (data[1] & 0x40) ? 1 + data[0] : 1024 * 1024;
	out_max = (data[1] & 0x80) ? 1 + (data[0] ^ 0x5a) : 1024 * 1024;
	run(SMTP_DATA_DOT, in, len, cut, max_size, max_line, out_max);
	run(SMTP_DATA_RAW, in, len, cut, max_size, max_line, out_max);
	return 0;
}
