"""Test cases run by Django's runner in a subprocess (not collected by pytest)."""

from django.contrib.auth.models import Group
from django.db import connection
from django.test import TestCase, TransactionTestCase

import django_mysqlpool


class PooledTestCase(TestCase):
    databases = {"default", "other"}

    def test_writes_inside_the_test_transaction(self):
        Group.objects.create(name="a")
        Group.objects.using("other").create(name="b")
        self.assertEqual(Group.objects.count(), 1)
        self.assertIsNotNone(django_mysqlpool.pool_stats("default"))


class PooledTransactionTestCase(TransactionTestCase):
    def test_connection_goes_back_and_comes_back(self):
        with connection.cursor() as cursor:
            cursor.execute("SELECT CONNECTION_ID()")
            first = cursor.fetchone()[0]
        connection.close()
        with connection.cursor() as cursor:
            cursor.execute("SELECT CONNECTION_ID()")
            self.assertEqual(cursor.fetchone()[0], first)

    def test_flush_between_tests_with_pooled_connections(self):
        Group.objects.create(name="c")
        self.assertEqual(Group.objects.count(), 1)
