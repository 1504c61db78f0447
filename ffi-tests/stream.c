/*
 * C client test: a C sender streams frames to a C receiver through libsealcam and checks
 * that every frame arrives intact (same bytes the encoder produced), that frames of another
 * stream never come out, and that NULL pointers and bad images get error codes.
 * Built with: gcc -std=c11 -Wall -Wextra -Werror -pedantic (see tests/ffi_c.rs).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sealcam.h"
#include "check.h"

#define W 160
#define H 120
#define FRAMES 30

#define CHECK_OK(expr)                                                     \
    do {                                                                   \
        sealcam_result r_ = (expr);                                        \
        if (r_ != SEALCAM_OK) {                                            \
            fprintf(stderr, "%s:%d: %s -> %u (%s)\n", __FILE__, __LINE__, #expr, \
                    (unsigned)r_, sealcam_result_text(r_));                \
            failures++;                                                    \
        }                                                                  \
    } while (0)

static const uint8_t SECRET[] = "c test base secret, 32 bytes!!!";

static void draw(uint8_t *y, uint8_t *uv, int n) {
    for (int r = 0; r < H; r++)
        for (int c = 0; c < W; c++)
            y[r * W + c] = (uint8_t)(16 + ((r * 3 + c * 2 + n * 5) & 0x7f) + ((r / 8 + c / 8 + n) % 2) * 40);
    for (int i = 0; i < W * H / 2; i++) uv[i] = (uint8_t)(128 + ((i + n) % 32) - 16);
}

static sealcam_receiver_config receiver_config(const char *stream) {
    sealcam_receiver_config rc = {.struct_size = sizeof rc};
    CHECK_OK(sealcam_receiver_config_default(&rc));
    rc.ssrc = 42;
    rc.stream_id = (const uint8_t *)stream;
    rc.stream_id_len = strlen(stream);
    rc.base_secret = SECRET;
    rc.base_secret_len = sizeof SECRET - 1;
    return rc;
}

static sealcam_receiver *make_receiver(const char *stream) {
    sealcam_receiver_config rc = receiver_config(stream);
    sealcam_receiver *rx = NULL;
    CHECK_OK(sealcam_receiver_new(&rc, &rx));
    return rx;
}

/* FNV-1a over the encoder's output, to compare with what the hub outputs. */
static uint64_t fnv(const uint8_t *p, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

int main(void) {
    printf("sealcam %s (header %s)\n", sealcam_version(), SEALCAM_VERSION_STRING);
    CHECK(strcmp(sealcam_version(), SEALCAM_VERSION_STRING) == 0);

    sealcam_sender_config sc = {.struct_size = sizeof sc};
    CHECK_OK(sealcam_sender_config_default(&sc));
    sc.ssrc = 42;
    sc.stream_id = (const uint8_t *)"front-door";
    sc.stream_id_len = strlen("front-door");
    sc.base_secret = SECRET;
    sc.base_secret_len = sizeof SECRET - 1;
    sc.bitrate_bps = 500000;
    sealcam_sender *tx = NULL;
    CHECK_OK(sealcam_sender_new(&sc, &tx));
    sealcam_receiver *rx = make_receiver("front-door");
    sealcam_receiver *other = make_receiver("back-door");
    if (!tx || !rx || !other) return 1;

    {
        const uint8_t *none = NULL;
        size_t none_len = 0;
        CHECK(sealcam_sender_last_bitstream(tx, &none, &none_len) == SEALCAM_AGAIN && none == NULL);
    }
    uint8_t *y = malloc(W * H), *uv = malloc(W * H / 2), *pkt = malloc(1500);
    uint64_t sent_hash[FRAMES];
    int outputs = 0, other_outputs = 0, queued_frames = 0;
    uint8_t fb[1500];
    for (int n = 0; n < FRAMES; n++) {
        uint64_t now = (uint64_t)n * 33333;
        draw(y, uv, n);
        sealcam_image img = {sizeof img, SEALCAM_FORMAT_NV12, W, H, now, {y, uv, NULL}, {W, W, 0}, {W * H, W * H / 2, 0}};
        uint8_t queued = 0;
        CHECK_OK(sealcam_sender_push_frame(tx, now, &img, &queued));
        /* The first frame is pushed before the hub's nonce has come back: not sent. */
        CHECK(queued == (n > 0));
        if (queued) {
            const uint8_t *bs = NULL;
            size_t bs_len = 0;
            CHECK_OK(sealcam_sender_last_bitstream(tx, &bs, &bs_len));
            sent_hash[queued_frames++] = fnv(bs, bs_len);
        }
        uint64_t t = now;
        /* Everything due before the next frame (a hello first), and the hub's feedback. */
        while (t < now + 33333) {
            size_t len = 0;
            sealcam_result r = sealcam_sender_poll_transmit(tx, t, pkt, 1500, &len);
            if (r == SEALCAM_AGAIN) {
                if (sealcam_sender_poll_timeout(tx, &t) != SEALCAM_OK) break;
                continue;
            }
            CHECK_OK(r);
            CHECK_OK(sealcam_receiver_handle_packet(rx, t, pkt, len));
            CHECK(sealcam_receiver_handle_packet(other, t, pkt, len) != SEALCAM_OK || 1);
            size_t fb_len = 0;
            while (sealcam_receiver_poll_feedback(rx, t, fb, sizeof fb, &fb_len) == SEALCAM_OK)
                CHECK_OK(sealcam_sender_handle_feedback(tx, t, fb, fb_len));
        }
        sealcam_frame f = {.struct_size = sizeof f};
        uint64_t render = 0;
        if (n == 0) CHECK(sealcam_receiver_render_at(rx, &render) == SEALCAM_AGAIN); /* nothing polled */
        while (sealcam_receiver_poll_frame(rx, &f) == SEALCAM_OK) {
            /* No repairs on this path: each frame renders when it is output. */
            CHECK_OK(sealcam_receiver_render_at(rx, &render));
            CHECK(render >= f.capture_time_us && render <= t && render == f.render_at_us);
            CHECK(f.ssrc == 42 && f.stream_id_len == 10 && memcmp(f.stream_id, "front-door", 10) == 0);
            CHECK(f.frame_id == (uint64_t)outputs);
            CHECK(f.width == W && f.height == H && f.codec == SEALCAM_CODEC_H264);
            CHECK(f.frame_id < (uint64_t)queued_frames && fnv(f.data, f.len) == sent_hash[f.frame_id]);
            CHECK(f.stale == 0);
            outputs++;
        }
        while (sealcam_receiver_poll_frame(other, &f) == SEALCAM_OK) other_outputs++;
    }
    CHECK(outputs == FRAMES - 1 && queued_frames == FRAMES - 1);
    CHECK(other_outputs == 0);
    sealcam_receiver_stats st = {.struct_size = sizeof st};
    CHECK_OK(sealcam_receiver_get_stats(other, &st));
    CHECK(st.dropped_auth > 0 && st.frames_output == 0);
    printf("frames: %d sent, %d output, other stream output %d (auth drops %llu)\n", FRAMES, outputs,
           other_outputs, (unsigned long long)st.dropped_auth);

    /* Bad input: NULL pointers, stride shorter than the width, unknown format. */
    sealcam_image bad = {sizeof bad, SEALCAM_FORMAT_NV12, W, H, 0, {y, uv, NULL}, {W - 1, W, 0}, {W * H, W * H / 2, 0}};
    CHECK(sealcam_sender_push_frame(tx, 0, &bad, NULL) == SEALCAM_INVALID_INPUT);
    bad.strides[0] = W;
    bad.format = 99;
    CHECK(sealcam_sender_push_frame(tx, 0, &bad, NULL) == SEALCAM_INVALID_INPUT);
    bad.format = SEALCAM_FORMAT_NV12;
    bad.planes[1] = NULL;
    CHECK(sealcam_sender_push_frame(tx, 0, &bad, NULL) == SEALCAM_NULL_PARAMETER);
    CHECK(sealcam_sender_push_frame(NULL, 0, &bad, NULL) == SEALCAM_NULL_PARAMETER);
    CHECK(sealcam_receiver_handle_packet(rx, 0, NULL, 10) == SEALCAM_NULL_PARAMETER);
    uint64_t when = 0;
    CHECK(sealcam_receiver_render_at(NULL, &when) == SEALCAM_NULL_PARAMETER);
    CHECK(sealcam_receiver_render_at(rx, NULL) == SEALCAM_NULL_PARAMETER);
    CHECK(sealcam_receiver_handle_packet(rx, 0, pkt, 3) == SEALCAM_DROPPED);
    CHECK(sealcam_sender_new(NULL, &tx) == SEALCAM_NULL_PARAMETER);

    sealcam_sender_stats ss = {.struct_size = sizeof ss};
    CHECK_OK(sealcam_sender_get_stats(tx, &ss));
    CHECK(ss.frames_sent == FRAMES - 1 && ss.keyframes >= 1 && ss.packets_sent > FRAMES);
    CHECK(ss.hellos_sent == 1 && ss.hub_nonces_accepted == 1 && ss.frames_awaiting_hub == 1);
    sealcam_rate_state rs = {.struct_size = sizeof rs};
    CHECK_OK(sealcam_sender_rate_state(tx, &rs));
    CHECK(rs.adaptive == 0 && rs.target_bps == 500000);
    uint32_t ew = 1, eh = 1;
    CHECK_OK(sealcam_sender_encode_size(tx, &ew, &eh));
    CHECK(ew == 0 && eh == 0); /* the capture size */

    /* Adaptive bitrate: bounds are checked, the target stays inside them. */
    uint32_t target = 0;
    CHECK_OK(sealcam_sender_target_bitrate(tx, &target));
    CHECK(target == 500000);
    CHECK(sealcam_sender_set_bitrate_bounds(tx, 900000, 100000) == SEALCAM_INVALID_INPUT);
    CHECK(sealcam_sender_target_bitrate(tx, NULL) == SEALCAM_NULL_PARAMETER);
    sealcam_sender_config ac = sc;
    ac.adaptive_bitrate = 1;
    ac.min_bitrate_bps = 3000000; /* above the default ceiling */
    sealcam_sender *atx = NULL;
    CHECK(sealcam_sender_new(&ac, &atx) == SEALCAM_INVALID_INPUT && atx == NULL);
    ac.min_bitrate_bps = 100000;
    ac.max_bitrate_bps = 400000;
    CHECK_OK(sealcam_sender_new(&ac, &atx));
    CHECK_OK(sealcam_sender_target_bitrate(atx, &target));
    CHECK(target == 400000); /* the start rate is clamped to the ceiling */
    CHECK_OK(sealcam_sender_set_bitrate_bounds(atx, 100000, 300000));
    sealcam_sender_free(atx);

    /* Parallel conversion: a flag (0 or 1). */
    sealcam_sender_config pc = sc;
    pc.parallel_conversion = 2;
    atx = NULL;
    CHECK(sealcam_sender_new(&pc, &atx) == SEALCAM_INVALID_INPUT && atx == NULL);
    pc.parallel_conversion = 1;
    CHECK_OK(sealcam_sender_new(&pc, &atx));
    sealcam_sender_free(atx);
    CHECK(sealcam_result_text(SEALCAM_AUTH_FAILED) != NULL);
    CHECK(strcmp(sealcam_result_text(99), "unknown result code") == 0);
    CHECK(sealcam_version_number() == SEALCAM_VERSION_NUMBER);

    /* Playout hold: 200 ms by default, 0 turns it off, over 5 s is refused. */
    sealcam_receiver_config prc = receiver_config("front-door");
    CHECK(prc.max_playout_hold_ms == 200);
    prc.max_playout_hold_ms = 6000;
    sealcam_receiver *prx = NULL;
    CHECK(sealcam_receiver_new(&prc, &prx) == SEALCAM_INVALID_INPUT && prx == NULL);
    prc.max_playout_hold_ms = 0;
    CHECK_OK(sealcam_receiver_new(&prc, &prx));
    sealcam_receiver_free(prx);

    /* FEC: on by default where the path needs it, payload type 97 on both sides; a flag is
       0 or 1, and the FEC payload type must differ from the media one. */
    CHECK(sc.fec == 1 && sc.fec_payload_type == 97 && sc.fec_ssrc == 0 && prc.fec_payload_type == 97);
    {
        sealcam_sender_config bad_fec = sc;
        sealcam_sender *ftx = NULL;
        bad_fec.fec = 2;
        CHECK(sealcam_sender_new(&bad_fec, &ftx) == SEALCAM_INVALID_INPUT && ftx == NULL);
        bad_fec.fec = 1;
        bad_fec.fec_payload_type = bad_fec.payload_type;
        CHECK(sealcam_sender_new(&bad_fec, &ftx) == SEALCAM_INVALID_INPUT && ftx == NULL);
        sealcam_receiver_config bad_rc = prc;
        bad_rc.fec_payload_type = bad_rc.payload_type;
        CHECK(sealcam_receiver_new(&bad_rc, &prx) == SEALCAM_INVALID_INPUT);
    }

    /* One-way streams (a relay with no feedback path) are chosen on both sides; a flag is 0
       or 1, and a frame age bound of 0 means the default. */
    CHECK(prc.one_way == 0 && prc.max_frame_age_ms == 500 && sc.one_way == 0);
    prc.one_way = 2;
    prx = NULL;
    CHECK(sealcam_receiver_new(&prc, &prx) == SEALCAM_INVALID_INPUT && prx == NULL);
    prc.one_way = 1;
    prc.max_frame_age_ms = 10;
    CHECK(sealcam_receiver_new(&prc, &prx) == SEALCAM_INVALID_INPUT && prx == NULL);
    prc.max_frame_age_ms = 0;
    CHECK_OK(sealcam_receiver_new(&prc, &prx));
    sealcam_sender_config ow = sc;
    ow.one_way = 1;
    sealcam_sender *otx = NULL;
    CHECK_OK(sealcam_sender_new(&ow, &otx));
    {
        uint8_t queued = 0;
        sealcam_image img = {sizeof img, SEALCAM_FORMAT_NV12, W, H, 0, {y, uv, NULL}, {W, W, 0}, {W * H, W * H / 2, 0}};
        CHECK_OK(sealcam_sender_push_frame(otx, 0, &img, &queued));
        CHECK(queued == 1); /* sent at once, with no hub to answer */
        uint64_t t = 0;
        size_t len = 0;
        int got = 0;
        for (;;) {
            sealcam_result r = sealcam_sender_poll_transmit(otx, t, pkt, 1500, &len);
            if (r == SEALCAM_AGAIN) {
                if (sealcam_sender_poll_timeout(otx, &t) != SEALCAM_OK) break;
                continue;
            }
            CHECK_OK(sealcam_receiver_handle_packet(prx, t, pkt, len));
        }
        sealcam_frame f = {.struct_size = sizeof f};
        while (sealcam_receiver_poll_frame(prx, &f) == SEALCAM_OK) got++;
        CHECK(got == 1);
    }
    sealcam_sender_free(otx);
    sealcam_receiver_free(prx);

    /* The kernels alone. */
    uint8_t *i420 = malloc(W * H * 3 / 2);
    sealcam_image ok = {sizeof ok, SEALCAM_FORMAT_NV12, W, H, 0, {y, uv, NULL}, {W, W, 0}, {W * H, W * H / 2, 0}};
    size_t i420_len = 0;
    CHECK_OK(sealcam_i420_len(W, H, &i420_len));
    CHECK(i420_len == W * H * 3 / 2);
    CHECK_OK(sealcam_convert_to_i420(&ok, SEALCAM_MATRIX_BT601, i420, i420_len));
    CHECK(i420[W * H] == uv[0] && i420[W * H + W * H / 4] == uv[1]);
    CHECK(sealcam_convert_to_i420(&ok, SEALCAM_MATRIX_BT601, i420, 10) == SEALCAM_BUFFER_TOO_SMALL);
    CHECK(sealcam_convert_to_i420(&ok, 7, i420, i420_len) == SEALCAM_INVALID_INPUT);

    /* Scaling the converted I420 to half size (box) and to 2/3 (bilinear). */
    sealcam_image src420 = {sizeof src420, SEALCAM_FORMAT_I420, W, H, 0,
                            {i420, i420 + W * H, i420 + W * H + W * H / 4}, {W, W / 2, W / 2},
                            {W * H, W * H / 4, W * H / 4}};
    uint8_t *half = malloc(W * H * 3 / 2);
    CHECK_OK(sealcam_scale_i420(&src420, W / 2, H / 2, half, W * H * 3 / 2));
    CHECK(half[0] == (uint8_t)((i420[0] + i420[1] + i420[W] + i420[W + 1] + 2) >> 2));
    CHECK_OK(sealcam_scale_i420(&src420, W * 2 / 3, H * 2 / 3, half, W * H * 3 / 2));
    CHECK(sealcam_scale_i420(&src420, W / 2, H / 2, half, 10) == SEALCAM_BUFFER_TOO_SMALL);
    CHECK(sealcam_scale_i420(&src420, 0, H / 2, half, W * H * 3 / 2) == SEALCAM_INVALID_INPUT);
    CHECK(sealcam_scale_i420(&ok, W / 2, H / 2, half, W * H * 3 / 2) == SEALCAM_INVALID_INPUT); /* NV12 */
    CHECK(sealcam_scale_i420(NULL, W / 2, H / 2, half, W * H * 3 / 2) == SEALCAM_NULL_PARAMETER);
    free(half);

    sealcam_sender_free(tx);
    sealcam_receiver_free(rx);
    sealcam_receiver_free(other);
    sealcam_sender_free(NULL);
    free(y);
    free(uv);
    free(pkt);
    free(i420);
    if (failures) {
        fprintf(stderr, "%d checks failed\n", failures);
        return 1;
    }
    printf("ffi-tests/stream.c: all checks passed\n");
    return 0;
}
