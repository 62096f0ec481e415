from django.db import models


class SecondModel(models.Model):
    name = models.CharField(max_length=40)


class ThirdModel(models.Model):
    name = models.CharField(max_length=40)


class FourthModel(models.Model):
    name = models.CharField(max_length=40)


class FirstModel(models.Model):
    name = models.CharField(max_length=40)
    second = models.ForeignKey(SecondModel, on_delete=models.CASCADE)
    third = models.ForeignKey(ThirdModel, on_delete=models.CASCADE)
    fourth = models.ForeignKey(FourthModel, on_delete=models.CASCADE)
