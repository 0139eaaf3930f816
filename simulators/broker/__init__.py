"""An embedded pure-Python MQTT broker (3.1.1 + the MQTT 5 subset the gateway uses) for when mosquitto is absent.

    from simulators.broker import Broker
    with Broker(users={"meter-7": "pw7"}) as b:
        b.port
"""
from simulators.broker.broker import Broker, check_password, load_password_file, topic_matches

__all__ = ["Broker", "check_password", "load_password_file", "topic_matches"]
