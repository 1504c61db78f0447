/*
 * C client test of the hub and of SFrame used alone: three cameras stream into one hub,
 * an attacker re-labels packets of camera 0 as camera 1's, and the hub outputs each frame
 * only under the stream it authenticated for. Then protect/unprotect without any RTP.
 * Built with: gcc -std=c11 -Wall -Wextra -Werror -pedantic (see tests/ffi_c.rs).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sealcam.h"
#include "check.h"

#define W 128
#define H 96
#define CAMS 3
#define FRAMES 20

#define CHECK_OK(expr) CHECK((expr) == SEALCAM_OK)

static const uint8_t SECRET[] = "hub test base secret, 32 bytes!";
static const char *IDS[CAMS] = {"kitchen", "porch", "garage"};

int main(void) {
    sealcam_hub_config hc = {.struct_size = sizeof hc};
    CHECK_OK(sealcam_hub_config_default(&hc));
    sealcam_hub *hub = NULL;
    CHECK_OK(sealcam_hub_new(&hc, &hub));
    sealcam_sender *tx[CAMS] = {NULL};
    for (int i = 0; i < CAMS; i++) {
        sealcam_receiver_config rc = {.struct_size = sizeof rc};
        CHECK_OK(sealcam_receiver_config_default(&rc));
        rc.ssrc = 1000 + (uint32_t)i;
        rc.stream_id = (const uint8_t *)IDS[i];
        rc.stream_id_len = strlen(IDS[i]);
        rc.base_secret = SECRET;
        rc.base_secret_len = sizeof SECRET - 1;
        CHECK_OK(sealcam_hub_add_stream(hub, &rc));
        sealcam_sender_config sc = {.struct_size = sizeof sc};
        CHECK_OK(sealcam_sender_config_default(&sc));
        sc.ssrc = rc.ssrc;
        sc.stream_id = rc.stream_id;
        sc.stream_id_len = rc.stream_id_len;
        sc.base_secret = SECRET;
        sc.base_secret_len = sizeof SECRET - 1;
        sc.bitrate_bps = 300000;
        CHECK_OK(sealcam_sender_new(&sc, &tx[i]));
    }
    if (!hub || !tx[0] || !tx[1] || !tx[2]) return 1;

    uint8_t *y = malloc(W * H), *u = malloc(W * H / 4), *v = malloc(W * H / 4), *pkt = malloc(1500);
    int shown[CAMS] = {0};
    for (int n = 0; n < FRAMES; n++) {
        uint64_t now = (uint64_t)n * 33333;
        for (int i = 0; i < CAMS; i++) {
            for (int k = 0; k < W * H; k++) y[k] = (uint8_t)(16 + ((k * (i + 1) + n * 7) & 0x7f));
            memset(u, 100 + 20 * i, W * H / 4);
            memset(v, 140 - 10 * i, W * H / 4);
            sealcam_image img = {sizeof img, SEALCAM_FORMAT_I420, W, H, now, {y, u, v}, {W, W / 2, W / 2},
                                 {W * H, W * H / 4, W * H / 4}};
            CHECK_OK(sealcam_sender_push_frame(tx[i], now, &img, NULL));
            uint64_t t = now;
            while (t < now + 33333) {
                size_t len = 0;
                sealcam_result r = sealcam_sender_poll_transmit(tx[i], t, pkt, 1500, &len);
                if (r == SEALCAM_AGAIN) {
                    if (sealcam_sender_poll_timeout(tx[i], &t) != SEALCAM_OK) break;
                    continue;
                }
                CHECK_OK(r);
                CHECK_OK(sealcam_hub_handle_packet(hub, t, pkt, len));
                if (i == 0) {
                    /* The attack: the same packet re-labelled as the porch camera's. */
                    pkt[8] = 0; pkt[9] = 0; pkt[10] = 0x03; pkt[11] = 0xe9; /* SSRC 1001 */
                    sealcam_hub_handle_packet(hub, t, pkt, len);
                }
            }
        }
        CHECK_OK(sealcam_hub_handle_timeout(hub, now));
        uint8_t fb[1500];
        size_t fb_len = 0;
        uint32_t fb_ssrc = 0;
        while (sealcam_hub_poll_feedback(hub, now, fb, sizeof fb, &fb_ssrc, &fb_len) == SEALCAM_OK) {
            CHECK(fb_ssrc >= 1000 && fb_ssrc < 1000 + CAMS); /* which camera to send it to */
            CHECK_OK(sealcam_sender_handle_feedback(tx[fb_ssrc - 1000], now, fb, fb_len));
        }
        sealcam_frame f = {.struct_size = sizeof f};
        while (sealcam_hub_poll_frame(hub, &f) == SEALCAM_OK) {
            int cam = (int)(f.ssrc - 1000);
            CHECK(cam >= 0 && cam < CAMS);
            CHECK(f.stream_id_len == strlen(IDS[cam]) && memcmp(f.stream_id, IDS[cam], f.stream_id_len) == 0);
            CHECK(f.frame_id == (uint64_t)shown[cam]);
            uint64_t render = 0;
            CHECK_OK(sealcam_hub_render_at(hub, f.ssrc, &render));
            CHECK(render >= f.capture_time_us && render == f.render_at_us);
            shown[cam]++;
        }
    }
    /* Each camera's first frame was pushed before the hub's nonce came back. */
    for (int i = 0; i < CAMS; i++) CHECK(shown[i] == FRAMES - 1);
    sealcam_receiver_stats st = {.struct_size = sizeof st};
    CHECK_OK(sealcam_hub_stream_stats(hub, 1001, &st));
    CHECK(st.dropped_auth + st.dropped_duplicate + st.dropped_out_of_window + st.dropped_too_late > 0);
    CHECK(sealcam_hub_stream_stats(hub, 4242, &st) == SEALCAM_INVALID_INPUT);
    uint64_t when = 0;
    CHECK(sealcam_hub_render_at(hub, 4242, &when) == SEALCAM_INVALID_INPUT);
    CHECK(sealcam_hub_render_at(NULL, 1000, &when) == SEALCAM_NULL_PARAMETER);
    CHECK(sealcam_hub_render_at(hub, 1000, NULL) == SEALCAM_NULL_PARAMETER);
    printf("hub: %d/%d/%d frames shown; porch refused %llu forged packets (auth %llu)\n", shown[0], shown[1],
           shown[2], (unsigned long long)(st.packets_received - st.packets_accepted),
           (unsigned long long)st.dropped_auth);
    CHECK_OK(sealcam_hub_remove_stream(hub, 1002));
    CHECK(sealcam_hub_remove_stream(hub, 1002) == SEALCAM_INVALID_INPUT);
    CHECK(sealcam_hub_handle_packet(hub, 0, pkt, 3) == SEALCAM_DROPPED);
    CHECK(sealcam_hub_handle_packet(NULL, 0, pkt, 3) == SEALCAM_NULL_PARAMETER);

    /* SFrame alone: protect for one stream, unprotect; another stream's key refuses it. */
    sealcam_seal_key *sk = NULL;
    sealcam_open_key *ok = NULL, *other = NULL;
    CHECK_OK(sealcam_seal_key_new(SEALCAM_SUITE_AES_128_GCM_SHA256_128, 0, SECRET, sizeof SECRET - 1, (const uint8_t *)"porch", 5, &sk));
    CHECK_OK(sealcam_open_key_new(SEALCAM_SUITE_AES_128_GCM_SHA256_128, 0, SECRET, sizeof SECRET - 1, (const uint8_t *)"porch", 5, &ok));
    CHECK_OK(sealcam_open_key_new(SEALCAM_SUITE_AES_128_GCM_SHA256_128, 0, SECRET, sizeof SECRET - 1, (const uint8_t *)"garage", 6, &other));
    uint8_t md[64], sealed[256], plain[256];
    size_t md_len = 0, sealed_len = 0, plain_len = 0;
    CHECK_OK(sealcam_stream_metadata((const uint8_t *)"porch", 5, 1001, 90000, md, sizeof md, &md_len));
    const char *msg = "a frame from the porch";
    CHECK(sealcam_sframe_protect(sk, md, md_len, (const uint8_t *)msg, strlen(msg), sealed, 10, &sealed_len) ==
          SEALCAM_BUFFER_TOO_SMALL);
    CHECK(sealed_len == 1 + strlen(msg) + 16); /* the size needed: header byte, body, tag */
    CHECK_OK(sealcam_sframe_protect(sk, md, md_len, (const uint8_t *)msg, strlen(msg), sealed, sizeof sealed, &sealed_len));
    CHECK(sealed_len > strlen(msg) && sealed_len <= strlen(msg) + SEALCAM_SFRAME_MAX_OVERHEAD);
    CHECK(sealcam_sframe_unprotect(other, md, md_len, sealed, sealed_len, plain, sizeof plain, &plain_len) ==
          SEALCAM_AUTH_FAILED);
    CHECK_OK(sealcam_sframe_unprotect(ok, md, md_len, sealed, sealed_len, plain, sizeof plain, &plain_len));
    CHECK(plain_len == strlen(msg) && memcmp(plain, msg, plain_len) == 0);
    CHECK(sealcam_sframe_unprotect(ok, md, md_len, sealed, sealed_len, plain, sizeof plain, &plain_len) ==
          SEALCAM_REPLAY);
    sealed[sealed_len - 1] ^= 1;
    CHECK(sealcam_sframe_unprotect(ok, md, md_len, sealed, sealed_len, plain, sizeof plain, &plain_len) !=
          SEALCAM_OK);

    /* Rekey through the C API: the hub installs epoch 1, the camera switches. */
    CHECK_OK(sealcam_hub_install_key(hub, 1000, 1, NULL, 0));
    CHECK_OK(sealcam_sender_rekey(tx[0], 1, NULL, 0));
    CHECK(sealcam_sender_rekey(tx[0], 1, NULL, 0) == SEALCAM_INVALID_INPUT);

    sealcam_seal_key_free(sk);
    sealcam_open_key_free(ok);
    sealcam_open_key_free(other);
    for (int i = 0; i < CAMS; i++) sealcam_sender_free(tx[i]);
    sealcam_hub_free(hub);
    sealcam_hub_free(NULL);
    free(y);
    free(u);
    free(v);
    free(pkt);
    if (failures) {
        fprintf(stderr, "%d checks failed\n", failures);
        return 1;
    }
    printf("ffi-tests/hub.c: all checks passed\n");
    return 0;
}
