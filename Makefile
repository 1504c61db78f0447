# Installs the C library: make install PREFIX=/usr/local (DESTDIR is honoured).
#   include/sealcam.h, lib/libsealcam.a, lib/libsealcam.so.$(VERSION) with SONAME
#   libsealcam.so.$(MAJOR) and its links, lib/pkgconfig/sealcam.pc.
# The ABI baseline (ffi-tests/abi/) is checked by tests/abi.rs and renewed on purpose with
# SEALCAM_BLESS_ABI=1 cargo test --test abi.

PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
CARGO ?= cargo
CARGO_TARGET_DIR ?= target
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
MAJOR := $(firstword $(subst ., ,$(VERSION)))
OUT := $(CARGO_TARGET_DIR)/release
# What the static library needs from the system: rustc --print native-static-libs, less
# -lgcc_s, which gcc adds itself to a dynamic link and which a -static link cannot take.
LIBS_PRIVATE := -lstdc++ -lutil -lrt -lpthread -lm -ldl -lc

.PHONY: all install uninstall

all:
	$(CARGO) build --release --lib

install: all
	install -d $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBDIR)/pkgconfig
	install -m 644 include/sealcam.h $(DESTDIR)$(INCLUDEDIR)/sealcam.h
	install -m 644 $(OUT)/libsealcam.a $(DESTDIR)$(LIBDIR)/libsealcam.a
	install -m 755 $(OUT)/libsealcam.so $(DESTDIR)$(LIBDIR)/libsealcam.so.$(VERSION)
	ln -sf libsealcam.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libsealcam.so.$(MAJOR)
	ln -sf libsealcam.so.$(MAJOR) $(DESTDIR)$(LIBDIR)/libsealcam.so
	printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$(LIBDIR)' 'includedir=$(INCLUDEDIR)' '' \
	  'Name: sealcam' \
	  'Description: Real-time video pipeline kernels with SFrame (RFC 9605) sealing' \
	  'Version: $(VERSION)' \
	  'Cflags: -I$${includedir}' \
	  'Libs: -L$${libdir} -lsealcam' \
	  'Libs.private: $(LIBS_PRIVATE)' > $(DESTDIR)$(LIBDIR)/pkgconfig/sealcam.pc

uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/sealcam.h $(DESTDIR)$(LIBDIR)/libsealcam.a \
	  $(DESTDIR)$(LIBDIR)/libsealcam.so $(DESTDIR)$(LIBDIR)/libsealcam.so.$(MAJOR) \
	  $(DESTDIR)$(LIBDIR)/libsealcam.so.$(VERSION) $(DESTDIR)$(LIBDIR)/pkgconfig/sealcam.pc
