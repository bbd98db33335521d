from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "yikatong.payments"
    label = "payments"
    verbose_name = "资金发放"

    def ready(self):
        from yikatong.payments import setup

        setup.register_all()
