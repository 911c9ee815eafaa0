from django.urls import path

from vaults.api import views

urlpatterns = [
    path("vault/initialize", views.VaultInitializeApi.as_view(), name="vault-initialize"),
    path("vault/deposit", views.VaultDepositApi.as_view(), name="vault-deposit"),
    path("vault/withdraw", views.VaultWithdrawApi.as_view(), name="vault-withdraw"),
    path("vault/submit", views.VaultSubmitApi.as_view(), name="vault-submit"),
    path("vault/balance/<str:user>", views.VaultBalanceApi.as_view(), name="vault-balance"),
    path("vault/transactions/<str:user>", views.VaultTransactionsApi.as_view(), name="vault-transactions"),
    path("vault/tvl", views.VaultTvlApi.as_view(), name="vault-tvl"),
    path("auth/nonce", views.AuthNonceApi.as_view(), name="auth-nonce"),
    path("auth/login", views.AuthLoginApi.as_view(), name="auth-login"),
    path("auth/logout", views.AuthLogoutApi.as_view(), name="auth-logout"),
]
