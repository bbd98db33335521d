from django.apps import AppConfig


class ChecksConfig(AppConfig):
    name = "yikatong.checks"
    label = "checks"
    verbose_name = "数据共享与交叉核查"
