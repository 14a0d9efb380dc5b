using System.Diagnostics;
using ActionKit.Data.Cvat;
using ActionKit.Data.Hmdb51;
using ActionKit.Data.Loading;
using ActionKit.Data.Synthetic;
using ActionKit.Engine;
using ActionKit.Pipeline.Templates;
using ActionKit.Pipeline.Training;

namespace ActionKit.Bench;

/// <summary>
/// Does the loader keep ahead of training? Clips/s the clip loader produces (decode, sample, augment, normalise on
/// worker threads) for the default X3D-CPU template, next to the clips/s a training step consumes at that shape.
/// </summary>
public static class LoaderBenchmarks
{
    public static IEnumerable<BenchmarkRow> Run(string templateName = "X3D-CPU")
    {
        var template = TemplateCatalog.Embedded.Find(templateName);
        var preprocessing = ModelFactory.Preprocessing(template.Data);
        string folder = Directory.CreateTempSubdirectory("actionkit-bench-").FullName;
        try
        {
            SyntheticDataset.Generate(Path.Combine(folder, "hmdb"), new SyntheticOptions { VideosPerClass = 9, ValVideosPerClass = 1 }, null, default);
            Hmdb51ToCvat.Convert(Path.Combine(folder, "hmdb"), 1, Hmdb51Source.Rawframes, Path.Combine(folder, "cvat"), null, default);
            var dataset = CvatDataset.Open(Path.Combine(folder, "cvat", Hmdb51ToCvat.TrainFolder));
            var videos = LabeledVideo.FromCvat(dataset, dataset.Labels);
            int batch = template.HyperParameters.BatchSize;
            double training = TrainingClipsPerSecond(template, dataset.Labels.Count, preprocessing.OutputSize(ClipMode.Train), batch);
            string peer = $"{template.Name} training step, batch {batch}";
            foreach (bool cache in new[] { false, true })
            {
                double loading = LoaderClipsPerSecond(videos, preprocessing, batch, cache);
                yield return new BenchmarkRow("loader", $"{template.Name} train clips, {(cache ? "frame cache" : "decoding JPEG")}", loading, "clips/s", peer, training);
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    static double LoaderClipsPerSecond(IReadOnlyList<LabeledVideo> videos, ClipPreprocessing preprocessing, int batch, bool cache)
    {
        using var loader = new ClipLoader(videos, preprocessing, new ClipLoaderOptions
        {
            Mode = ClipMode.Train,
            BatchSize = batch,
            Workers = Math.Clamp(Environment.ProcessorCount, 1, 4),
            Seed = 1,
            CacheFrames = cache,
        });
        if (cache)
        {
            // The first epoch fills the frame cache; training pays it once, then reads every later epoch from memory.
            _ = loader.ReadEpoch(0).Sum(batch => batch.Count);
        }
        var clock = Stopwatch.StartNew();
        long clips = 0;
        for (int epoch = 1; epoch <= 2; epoch++)
        {
            clips += loader.ReadEpoch(epoch).Sum(batch => batch.Count);
        }
        return clips / clock.Elapsed.TotalSeconds;
    }

    static double TrainingClipsPerSecond(ModelTemplate template, int classes, int size, int batch)
    {
        using var backend = new CpuBackend();
        using var step = new TrainingStep(backend, ModelFactory.NetworkConfig(template.Model, classes), batch, template.Data.ClipLen, size);
        return batch / Timing.MedianSeconds(step.Run, warmup: 1, minRuns: 3, minSeconds: 3);
    }
}
