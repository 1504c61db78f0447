/*
 * C client test of struct growth: built against a copy of sealcam.h whose sealcam_frame and
 * sealcam_receiver_stats lack their last fields, as a program built against an older
 * release would have them (tests/ffi_c.rs writes that header). Each struct lives in a heap
 * block 16 bytes longer than the older size, filled with a pattern: the bytes past the
 * struct must keep it (and valgrind checks every access inside the block is initialised).
 * tests/abi.rs also builds it against the ABI baseline's header (ffi-tests/abi/sealcam.h)
 * and runs it against the library built now: it may use only what that header declares.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sealcam.h"
#include "check.h"

#define W 64
#define H 48

static const uint8_t SECRET[] = "old struct test secret, 32 byte";

int main(void) {
    sealcam_sender_config sc = {.struct_size = sizeof sc};
    CHECK(sealcam_sender_config_default(&sc) == SEALCAM_OK);
    sc.stream_id = (const uint8_t *)"old";
    sc.stream_id_len = 3;
    sc.base_secret = SECRET;
    sc.base_secret_len = sizeof SECRET - 1;
    sealcam_receiver_config rc = {.struct_size = sizeof rc};
    CHECK(sealcam_receiver_config_default(&rc) == SEALCAM_OK);
    rc.stream_id = sc.stream_id;
    rc.stream_id_len = 3;
    rc.base_secret = SECRET;
    rc.base_secret_len = sizeof SECRET - 1;
    sealcam_sender *tx = NULL;
    sealcam_receiver *rx = NULL;
    CHECK(sealcam_sender_new(&sc, &tx) == SEALCAM_OK);
    CHECK(sealcam_receiver_new(&rc, &rx) == SEALCAM_OK);
    if (!tx || !rx) return 1;

    uint8_t *y = malloc(W * H), *u = malloc(W * H / 4), *v = malloc(W * H / 4), pkt[1500];
    memset(u, 90, W * H / 4);
    memset(v, 160, W * H / 4);
    /* The older sizes, and 16 bytes past each that the library must not touch. */
    uint8_t *fb = malloc(sizeof(sealcam_frame) + 16), *sb = malloc(sizeof(sealcam_receiver_stats) + 16);
    sealcam_frame *f = (sealcam_frame *)fb;
    sealcam_receiver_stats *st = (sealcam_receiver_stats *)sb;
    int shown = 0;
    for (int n = 0; n < 10; n++) {
        uint64_t now = (uint64_t)n * 33333;
        for (int k = 0; k < W * H; k++) y[k] = (uint8_t)(k * 3 + n * 11);
        sealcam_image img = {sizeof img, SEALCAM_FORMAT_I420, W, H, now, {y, u, v}, {W, W / 2, W / 2},
                             {W * H, W * H / 4, W * H / 4}};
        CHECK(sealcam_sender_push_frame(tx, now, &img, NULL) == SEALCAM_OK);
        size_t len = 0;
        uint64_t t = now;
        while (t < now + 33333) { /* a hello first, then the frames: with the hub's feedback */
            sealcam_result r = sealcam_sender_poll_transmit(tx, t, pkt, sizeof pkt, &len);
            if (r == SEALCAM_AGAIN) {
                if (sealcam_sender_poll_timeout(tx, &t) != SEALCAM_OK) break;
                continue;
            }
            CHECK(r == SEALCAM_OK);
            CHECK(sealcam_receiver_handle_packet(rx, t, pkt, len) == SEALCAM_OK);
            uint8_t fb[1500];
            size_t fb_len = 0;
            while (sealcam_receiver_poll_feedback(rx, t, fb, sizeof fb, &fb_len) == SEALCAM_OK)
                CHECK(sealcam_sender_handle_feedback(tx, t, fb, fb_len) == SEALCAM_OK);
        }
        memset(fb, 0xa5, sizeof *f + 16);
        f->struct_size = sizeof *f;
        while (sealcam_receiver_poll_frame(rx, f) == SEALCAM_OK) {
            CHECK(f->struct_size == sizeof *f);
            CHECK(f->frame_id == (uint64_t)shown && f->len > 0 && f->ssrc == 0);
            for (size_t i = sizeof *f; i < sizeof *f + 16; i++) CHECK(fb[i] == 0xa5);
            shown++;
        }
    }
    CHECK(shown == 9); /* the first frame was pushed before the hub's nonce came */
    memset(sb, 0xa5, sizeof *st + 16);
    st->struct_size = sizeof *st;
    CHECK(sealcam_receiver_get_stats(rx, st) == SEALCAM_OK);
    CHECK(st->frames_output == 9 && st->packets_accepted == st->packets_received);
    for (size_t i = sizeof *st; i < sizeof *st + 16; i++) CHECK(sb[i] == 0xa5);
    printf("old structs: sealcam_frame %zu bytes, sealcam_receiver_stats %zu bytes, %d frames\n", sizeof *f,
           sizeof *st, shown);
    free(fb);
    free(sb);
    free(y);
    free(u);
    free(v);
    sealcam_sender_free(tx);
    sealcam_receiver_free(rx);
    if (failures) {
        fprintf(stderr, "%d checks failed\n", failures);
        return 1;
    }
    printf("ffi-tests/old_structs.c: all checks passed\n");
    return 0;
}
