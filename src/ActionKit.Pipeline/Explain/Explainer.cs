using System.Text.Json;
using System.Text.Json.Serialization;
using ActionKit.Data;
using ActionKit.Data.Cvat;
using ActionKit.Data.Loading;
using ActionKit.Engine.Models;
using ActionKit.Pipeline.Caching;
using ActionKit.Pipeline.Evaluation;
using ActionKit.Pipeline.Training;

namespace ActionKit.Pipeline.Explain;

/// <summary>
/// The clip an explanation looks at: a video's centre clip and centre crop, as evaluation's first view sees it.
/// <see cref="Crop"/> is the crop's region of the source frames; <see cref="Boxes"/> holds, for each clip frame, the
/// actors' boxes in the view's pixels (empty lists when the video has no boxes).
/// </summary>
public sealed record ClipView(string Name, ClipBatch Batch, int[] FrameIndices, BoundingBox Crop, IReadOnlyList<IReadOnlyList<BoundingBox>> Boxes)
{
    public bool HasBoxes => Boxes.Any(frame => frame.Count > 0);
}

/// <summary>One written explanation, as explain.json lists it.</summary>
public sealed record ExplanationEntry(string Video, string? Label, string Predicted, double Probability, string Target,
    string Method, string Layer, int[] Frames, BoundingBox Crop, string Image, string Map, PointingScore? Pointing);

/// <summary>Eval's explanations: the maps it wrote and, on data with actor boxes, the pointing score of every layer.</summary>
public sealed record ExplainReport(string Method, string DefaultLayer, string Folder, int MapsPerClass,
    IReadOnlyList<PointingScore> Pointing);

/// <summary>
/// <c>actionkit explain</c> and Eval's maps: saliency of a trained model's logit over space and time from the
/// engine's backward pass. Only trained weights have a backward pass; exported and INT8 models are refused.
/// </summary>
public sealed class Explainer : IDisposable
{
    /// <summary>
    /// Grad-CAM's layer when none is named: the one whose maps' peaks fall in the actors' boxes most often, measured
    /// on the default pipeline's X3D-CPU (8x56x56 clips) over the 80 validation videos (README, "Explain"): res2
    /// (14x14 a frame). The deeper stages are coarser (res4 4x4, res5 and conv5 2x2) and point worse.
    /// </summary>
    public const string DefaultLayer = "res2";

    /// <summary>The index of the maps in an explanation folder.</summary>
    public const string IndexFileName = "explain.json";

    static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    readonly EngineClassifier model;
    readonly BatchInput input;
    readonly ClipPreprocessing preprocessing;

    Explainer(EngineClassifier model)
    {
        this.model = model;
        input = new BatchInput(model.Network.Backend);
        preprocessing = model.Preprocessing(testClips: 1, testCrops: 1);
    }

    /// <summary>Opens trained weights (.safetensors); any other model file is refused with the reason.</summary>
    public static Explainer Open(string weightsPath, string device = "auto")
    {
        if (!Path.GetExtension(weightsPath).Equals(".safetensors", StringComparison.OrdinalIgnoreCase))
            throw new TrainingException($"{weightsPath}: explain needs the trained weights (weights.safetensors); an exported or "
                + "INT8 model keeps no backward pass to take gradients through");
        return new Explainer((EngineClassifier)VideoClassifier.Open(weightsPath, device));
    }

    public IReadOnlyList<string> Labels => model.Labels.Names;

    /// <summary>The layers Grad-CAM can weigh (conv1, res2 ... conv5).</summary>
    public IReadOnlyList<string> Layers => [.. model.Network.LayerNames.Skip(1)];

    /// <summary>The clip of <paramref name="video"/> the explanation looks at, with its actors' boxes mapped into the view.</summary>
    public ClipView View(VideoFrames video, IReadOnlyList<FrameBox> boxes)
    {
        var batch = ClipLoader.ReadVideo(video, preprocessing);
        int[] frames = ClipSampler.FrameIndices(
            ClipSampler.TestOffsets(video.Count, preprocessing.ClipLength, preprocessing.FrameInterval, 1),
            video.Count, preprocessing.ClipLength, preprocessing.FrameInterval);
        var first = video.Read(0);
        var crop = preprocessing.CentreCropInSource(first.Width, first.Height);
        double scaleX = batch.Size / crop.Width, scaleY = batch.Size / crop.Height;
        var byFrame = boxes.ToLookup(b => b.Frame, b => b.Box);
        IReadOnlyList<BoundingBox>[] inView = [.. frames.Select(frame => (IReadOnlyList<BoundingBox>)[.. byFrame[frame]
            .Select(box => new BoundingBox((box.Left - crop.Left) * scaleX, (box.Top - crop.Top) * scaleY,
                (box.Right - crop.Left) * scaleX, (box.Bottom - crop.Top) * scaleY).ClipTo(batch.Size, batch.Size))
            .Where(box => !box.IsEmpty)])];
        return new ClipView(video.Name, batch, frames, crop, inView);
    }

    /// <summary>Runs the clip forward (evaluation mode); returns the class probabilities. <see cref="Map"/> then explains it.</summary>
    public double[] Forward(ClipView view)
    {
        var logits = model.Network.Forward(input.Load(view.Batch), training: false).ToArray();
        double max = logits.Max();
        double[] exp = [.. logits.Select(z => Math.Exp(z - max))];
        double sum = exp.Sum();
        return [.. exp.Select(e => e / sum)];
    }

    /// <summary>The saliency of class <paramref name="target"/>'s logit in the last <see cref="Forward"/>, at the clip's resolution.</summary>
    public SaliencyVolume Map(int target, SaliencyMethod method, string layer) => Maps(target, [(method, layer)])[0];

    /// <summary>Several maps of one class's logit from a single backward pass, in the order asked.</summary>
    public IReadOnlyList<SaliencyVolume> Maps(int target, IReadOnlyList<(SaliencyMethod Method, string Layer)> requests)
    {
        var network = model.Network;
        string[] layers = [.. requests.Select(r => r.Method == SaliencyMethod.GradCam ? r.Layer : X3D.InputName)];
        if (requests.FirstOrDefault(r => r.Method == SaliencyMethod.GradCam && !Layers.Contains(r.Layer)) is { Layer: { } unknown })
            throw new TrainingException($"{model.ModelPath}: the network has no layer '{unknown}'; Grad-CAM can use {string.Join(", ", Layers)}");
        using var dLogits = network.Backend.Allocate(1, Labels.Count);
        dLogits.CopyFrom([.. Enumerable.Range(0, Labels.Count).Select(k => k == target ? 1f : 0f)]);
        var gradients = new Dictionary<string, float[]>();
        string lowest = network.LayerNames.First(layers.Contains);
        network.BackwardTo(dLogits, lowest, (name, gradient) =>
        {
            if (layers.Contains(name))
                gradients[name] = gradient.ToArray();
        });
        var clip = network.LayerOutput(X3D.InputName);
        return [.. requests.Select((request, i) => (request.Method == SaliencyMethod.GradCam
                ? Saliency.GradCam(network.LayerOutput(layers[i]), gradients[layers[i]])
                : Saliency.Gradient(clip, gradients[layers[i]]))
            .Resize(clip.Dim(1), clip.Dim(2), clip.Dim(3)))];
    }

    /// <summary>The clip's frames in pixel units [T, S, S, 3], normalization undone.</summary>
    public float[] Pixels(ClipView view)
    {
        var data = view.Batch.Data;
        var pixels = new float[view.Batch.ClipLength * view.Batch.Size * view.Batch.Size * 3];
        for (int i = 0; i < pixels.Length; i++)
            pixels[i] = data[i] * preprocessing.Std[i % 3] + preprocessing.Mean[i % 3];
        return pixels;
    }

    /// <summary>
    /// <c>actionkit explain</c>: explains one video (a video file, a frames folder or a CVAT video folder, whose actor
    /// boxes are then outlined and scored) for <paramref name="target"/> (default: the predicted class), writing
    /// &lt;name&gt;.png, &lt;name&gt;.npy and explain.json into <paramref name="outFolder"/>.
    /// </summary>
    public static ExplanationEntry ExplainVideo(string weightsPath, string videoPath, string outFolder, string? target = null,
        SaliencyMethod method = SaliencyMethod.GradCam, string? layer = null, string device = "auto", CancellationToken cancellationToken = default)
    {
        using var explainer = Open(weightsPath, device);
        bool isCvat = File.Exists(Path.Combine(videoPath, CvatAnnotations.FileName));
        var cvat = isCvat ? CvatDataset.ReadVideo(videoPath) : null;
        var video = cvat is null ? VideoFrames.Open(videoPath, cancellationToken) : VideoFrames.FromCvat(cvat);
        int? targetId = null;
        if (target is not null)
        {
            int id = explainer.Labels.ToList().IndexOf(target);
            targetId = id >= 0 ? id : throw new TrainingException(
                $"{weightsPath}: the model has no class '{target}'; its classes are {string.Join(", ", explainer.Labels)}");
        }
        Directory.CreateDirectory(outFolder);
        string name = Path.GetFileNameWithoutExtension(Path.TrimEndingDirectorySeparator(videoPath));
        var entry = explainer.Write(explainer.View(video, cvat?.Boxes ?? []) with { Name = videoPath }, cvat?.Label, targetId, method, layer ?? DefaultLayer,
            outFolder, name, score: true);
        WriteIndex(Path.Combine(outFolder, IndexFileName), [entry]);
        return entry;
    }

    /// <summary>
    /// Eval's explanations of a CVAT test root: maps of the predicted class at the default layer for the first
    /// <paramref name="mapsPerClass"/> videos of each class into <paramref name="outFolder"/>, and, when the videos
    /// have actor boxes, the pointing score of every layer (and of gradient saliency) over all of them.
    /// </summary>
    public static ExplainReport ExplainDataset(string weightsPath, string testRoot, string outFolder, int mapsPerClass, string device,
        IProgress<WorkProgress>? progress, CancellationToken cancellationToken)
    {
        using var explainer = Open(weightsPath, device);
        var videos = CvatDataset.Open(testRoot).Videos;
        var mapped = videos.GroupBy(v => v.Label).SelectMany(group => group.Take(mapsPerClass)).ToHashSet();
        bool scored = videos.Any(v => v.Boxes.Count > 0);
        var toExplain = scored ? videos : [.. videos.Where(mapped.Contains)];
        const string layer = DefaultLayer;
        (SaliencyMethod Method, string Layer)[] maps =
        [
            .. explainer.Layers.Select(l => (SaliencyMethod.GradCam, l)), (SaliencyMethod.Gradient, X3D.InputName),
        ];
        var tallies = maps.Select(m => new PointingTally(m.Method, m.Layer)).ToArray();
        var entries = new List<ExplanationEntry>();
        Directory.CreateDirectory(outFolder);
        for (int i = 0; i < toExplain.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var video = toExplain[i];
            var view = explainer.View(VideoFrames.FromCvat(video), video.Boxes) with { Name = video.Name };
            if (mapped.Contains(video))
                entries.Add(explainer.Write(view, video.Label, null, SaliencyMethod.GradCam, layer, outFolder, $"{video.Label}_{video.Name}", score: false));
            if (scored)
            {
                int predicted = ClassificationMetrics.Ranking(explainer.Forward(view))[0];
                var volumes = explainer.Maps(predicted, maps);
                for (int m = 0; m < maps.Length; m++)
                    tallies[m].Add(volumes[m], view.Boxes);
            }
            progress?.Report(new WorkProgress("explaining", i + 1, toExplain.Count));
        }
        WriteIndex(Path.Combine(outFolder, IndexFileName), entries);
        return new ExplainReport("gradcam", layer, Path.GetFileName(Path.TrimEndingDirectorySeparator(outFolder)), mapsPerClass,
            scored ? [.. tallies.Select(t => t.Score())] : []);
    }

    // Explains the view for target (default: the prediction) and writes name.png and name.npy into folder.
    ExplanationEntry Write(ClipView view, string? label, int? target, SaliencyMethod method, string layer, string folder, string name, bool score)
    {
        var probabilities = Forward(view);
        int predicted = ClassificationMetrics.Ranking(probabilities)[0], explained = target ?? predicted;
        var map = Map(explained, method, layer);
        string image = name + ".png", raw = name + ".npy";
        ExplanationFiles.WriteStrip(Path.Combine(folder, image), Pixels(view), map, view.HasBoxes ? view.Boxes : null);
        ExplanationFiles.WriteNpy(Path.Combine(folder, raw), map);
        PointingScore? pointing = null;
        if (score && view.HasBoxes)
        {
            var tally = new PointingTally(method, layer);
            tally.Add(map, view.Boxes);
            pointing = tally.Score();
        }
        return new ExplanationEntry(view.Name, label, Labels[predicted], probabilities[predicted], Labels[explained],
            Saliency.Name(method), method == SaliencyMethod.GradCam ? layer : X3D.InputName, view.FrameIndices, view.Crop, image, raw, pointing);
    }

    static void WriteIndex(string path, IReadOnlyList<ExplanationEntry> entries) =>
        AtomicFile.WriteAllText(path, JsonSerializer.Serialize(entries, Json) + "\n");

    public void Dispose()
    {
        input.Dispose();
        model.Dispose();
    }
}
