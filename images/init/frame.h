/* SPDX-License-Identifier: MIT */
/*
 * Job output frames on the job channel (guest /dev/ttyS1, docs/IMAGES.md).
 *
 *   byte 0     type: FRAME_STDOUT (1) or FRAME_STDERR (2)
 *   bytes 1-2  payload length, little endian, 1..FRAME_MAX_PAYLOAD
 *   bytes 3..  payload
 *
 * The guest init encodes; the host decodes with struct frame_decoder, one
 * byte at a time as the UART hands them over. Pure: no I/O, no globals.
 */
#ifndef MVM_FRAME_H
#define MVM_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define FRAME_STDOUT 1
#define FRAME_STDERR 2
#define FRAME_HEADER 3
#define FRAME_MAX_PAYLOAD 4096

/*
 * Write the header for a payload of len bytes at out[0..3) and return 3, or
 * -EINVAL for a bad type or len outside 1..FRAME_MAX_PAYLOAD. Callers that
 * read the payload straight into out + FRAME_HEADER avoid a copy.
 */
int frame_encode(uint8_t *out, uint8_t type, size_t len);

struct frame_decoder {
	unsigned have; /* header bytes, then payload bytes, received */
	uint8_t type;
	uint16_t len;
	uint8_t payload[FRAME_MAX_PAYLOAD];
};

/* Zero the decoder (also what a zero-initialised decoder already is). */
void frame_decoder_init(struct frame_decoder *d);

/*
 * Feed one byte. Returns 0 when more bytes are needed, 1 when a frame is
 * complete (d->type, d->payload[0..d->len) are valid until the next call),
 * or -EPROTO when the stream is not frames (bad type or length); the guest
 * is then broken or hostile and the host should stop reading the channel.
 */
int frame_decoder_push(struct frame_decoder *d, uint8_t byte);

#endif
