"""The admin site: a password and a TOTP code (django-otp) to get in; a session without a
verified device is treated as not staff. The header shows the open-alert count on every page."""
from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django_otp.admin import OTPAdminSite
from django_otp.forms import OTPAuthenticationFormMixin
from django_otp.plugins.otp_totp.models import TOTPDevice


class StaffLoginForm(OTPAuthenticationFormMixin, AdminAuthenticationForm):
    """Username, password and the 6-digit code. With one authenticator app per account (the
    usual case) the device need not be chosen: the account's confirmed TOTP device is used."""

    otp_device = forms.CharField(required=False, widget=forms.HiddenInput)
    otp_token = forms.CharField(
        required=True, label="Authenticator code",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "maxlength": 8}),
    )
    otp_challenge = forms.CharField(required=False)

    def clean(self):
        self.cleaned_data = super().clean()
        self.clean_otp(self.get_user())
        return self.cleaned_data

    def _chosen_device(self, user):
        device = super()._chosen_device(user)
        if device is None:
            device = TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()
        return device


class ConsoleAdminSite(OTPAdminSite):
    site_header = "Collateral Vault back office"
    site_title = "Collateral Vault back office"
    index_title = "Staff console"
    site_url = "/"  # "View site": the public live page
    login_form = StaffLoginForm
    login_template = "admin/console_login.html"

    def __init__(self, name="admin"):
        super().__init__(name)
