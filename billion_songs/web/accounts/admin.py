from django.contrib import admin

from billion_songs.web.accounts.forms import AdminSignInForm

# The admin's sign-in form shows the throttle's message (the backend enforces it anyway).
admin.site.login_form = AdminSignInForm
admin.site.site_header = "Billion Songs administration"
admin.site.site_title = "Billion Songs admin"
