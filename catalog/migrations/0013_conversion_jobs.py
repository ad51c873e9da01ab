# Conversion runs become jobs (QueuedJob): the columns ingest runs got in 0009_run_enqueue.
# It also joins the two leaves 0011_conversions and 0012_crop_contents (independent branches).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('catalog', '0011_conversions'),
    ]

    operations = [
        migrations.AddField(
            model_name='conversionrun',
            name='enqueue_error',
            field=models.TextField(blank=True, help_text='Why its task could not be sent to the broker.'),
        ),
        migrations.AddField(
            model_name='conversionrun',
            name='enqueued_at',
            field=models.DateTimeField(blank=True, help_text='When its task last reached the broker.', null=True),
        ),
        migrations.AddField(
            model_name='conversionrun',
            name='heartbeat_at',
            field=models.DateTimeField(blank=True, help_text='Last sign of life from its worker.', null=True),
        ),
        migrations.AddField(
            model_name='conversionrun',
            name='requeues',
            field=models.PositiveSmallIntegerField(default=0, help_text='Times the sweeper sent its task again.'),
        ),
    ]
