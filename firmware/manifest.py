# Freeze the device app and the portable core modules it imports (MicroPython manifest.py; see the MicroPython docs,
# "MicroPython manifest files"). Build, e.g.:
#   make -C ports/esp32 BOARD=ESP32_GENERIC FROZEN_MANIFEST=/path/to/iota_edge/firmware/manifest.py
# boot.py and main.py stay plain files on the board's filesystem (mpremote cp), so /safemode and a REPL edit can
# always reach them; copy boards/<NAME>/board.json to /boards/<NAME>/board.json and write /config.json.
include("$(PORT_DIR)/boards/manifest.py")

package("app", files=("__init__.py", "config.py", "mqtt.py", "pipeline.py", "sensors.py", "store.py", "uplink.py"),
        base_path=".", opt=3)
# The portable core, only what a device runs (no gateway/, bench/, cli, client, streams.reader/parser).
package("iota_edge", files=("__init__.py", "errors.py", "trinary.py", "curl.py", "_curl_viper.py", "_native.py",
                            "kerl.py", "keccak.py", "signing.py", "transaction.py", "bundle.py", "pow.py", "cbor.py",
                            "framing.py", "wire.py", "device.py", "streams/__init__.py", "streams/mam.py",
                            "streams/channel.py", "streams/reading.py", "streams/store.py"),
        base_path="..", opt=3)
