using System.IO.Compression;
using System.Text.Json;
using System.Text.Json.Nodes;
using ActionKit.Engine.Checkpoints;
using ActionKit.Engine.Models;

namespace ActionKit.Engine.Tests;

/// <summary>
/// The PyTorch checkpoint reader and the upstream name maps against fixtures written by a real PyTorch
/// (Fixtures/make_pytorch_fixtures.py: small X3Ds with mmaction2's and PyTorchVideo's module structure, zip and legacy).
/// </summary>
public sealed class PyTorchCheckpointTests : IDisposable
{
    static readonly string Fixtures = Path.Combine(AppContext.BaseDirectory, "Fixtures", "pytorch");
    static readonly JsonObject Expected = JsonNode.Parse(File.ReadAllText(Path.Combine(Fixtures, "expected.json")))!.AsObject();
    readonly string folder = Directory.CreateTempSubdirectory("actionkit-pth-").FullName;
    readonly CpuBackend backend = new();

    public void Dispose()
    {
        backend.Dispose();
        Directory.Delete(folder, recursive: true);
    }

    internal static string Fixture(string name) => Path.Combine(Fixtures, name);

    /// <summary>The recorded clips [N, T, H, W, 3], normalized as the fixtures' PyTorch normalized them.</summary>
    internal static (float[] Values, int[] Shape) Clips()
    {
        var clips = Expected["clips"]!;
        int[] shape = [.. clips["shape"]!.AsArray().Select(d => (int)d!)];
        float mean = (float)clips["mean"]!, std = (float)clips["std"]!;
        return ([.. File.ReadAllBytes(Fixture((string)clips["file"]!)).Select(p => (p - mean) / std)], shape);
    }

    internal static float[][] ExpectedLogits(string implementation) =>
        [.. Expected["models"]![implementation]!["logits"]!.AsArray().Select(row => row!.AsArray().Select(v => (float)v!).ToArray())];

    [Theory]
    [InlineData("mmaction2", "zip")]
    [InlineData("mmaction2", "legacy")]
    [InlineData("pytorchvideo", "zip")]
    [InlineData("pytorchvideo", "legacy")]
    public void ImportedModelReproducesPyTorchsLogits(string implementation, string format)
    {
        var state = PyTorchCheckpoint.Read(Fixture($"{implementation}.{format}.pth"));
        Assert.Equal(format, state.Format);
        Assert.Equal(implementation == "mmaction2" ? "state_dict" : "model_state", state.Location);
        var names = UpstreamX3D.Detect(state);
        var config = UpstreamX3D.InferConfig(state, names, new X3DConfig { NumClasses = 1 });
        Assert.Equal(implementation == "mmaction2" ? [1, 2, 3, 1] : new[] { 2, 2, 2, 1 }, config.Depths);
        Assert.Equal(implementation == "pytorchvideo", config.StrideOnlyShortcutWithoutNorm);
        using var model = new X3D(config, backend, seed: 5);
        var report = PretrainedWeights.Load(state, names, model);
        Assert.Empty(report.Missing);
        Assert.Empty(report.Reinitialized);
        Assert.Empty(report.Unexpected);
        Assert.Equal(state.Tensors.Count, report.Mapped.Count);

        var (values, shape) = Clips();
        using var clips = backend.Allocate(shape);
        clips.CopyFrom(values);
        var logits = model.Forward(clips, training: false).ToArray();
        var expected = ExpectedLogits(implementation);
        float largest = expected.SelectMany(row => row).Max(MathF.Abs);
        for (int n = 0; n < expected.Length; n++)
            for (int k = 0; k < expected[n].Length; k++)
                Assert.True(MathF.Abs(logits[n * expected[n].Length + k] - expected[n][k]) <= 1e-4f * largest,
                    $"clip {n} class {k}: ActionKit {logits[n * expected[n].Length + k]}, PyTorch {expected[n][k]}");
    }

    [Theory]
    [InlineData("zip")]
    [InlineData("legacy")]
    public void ReadsEveryFloatTypeStridesOffsetsAndSharedStorages(string format)
    {
        var state = PyTorchCheckpoint.Read(Fixture($"layouts.{format}.pth"));
        var expected = Expected["layouts"]!.AsObject();
        Assert.Equal(expected.Select(e => e.Key).Order(), state.Tensors.Keys.Order());
        foreach (var (name, values) in expected)
        {
            var flat = Flatten(values!).ToArray();
            Assert.Equal(flat, state.Tensors[name].Values);
        }
        Assert.Equal(TorchDType.BFloat16, state.Tensors["bf16"].Type);
        Assert.Equal(TorchDType.Float16, state.Tensors["f16"].Type);
        Assert.Equal([6, 4], state.Tensors["transposed"].Shape);
        Assert.Equal([42L], state.Tensors["count"].Integers!);
    }

    static IEnumerable<float> Flatten(JsonNode node) => node is JsonArray array ? array.SelectMany(item => Flatten(item!)) : [(float)node];

    [Theory]
    [InlineData("mmaction2", UpstreamNames.MMAction2)]
    [InlineData("pytorchvideo", UpstreamNames.PyTorchVideo)]
    public void ExportWritesTheSameTensorsUnderUpstreamNames(string implementation, UpstreamNames names)
    {
        var state = PyTorchCheckpoint.Read(Fixture($"{implementation}.zip.pth"));
        using var model = new X3D(UpstreamX3D.InferConfig(state, names, new X3DConfig { NumClasses = 1 }), backend, seed: 5);
        PretrainedWeights.Load(state, names, model);
        string path = Path.Combine(folder, "upstream.safetensors");
        SafeTensors.Write(path, PretrainedWeights.Export(model, names, state.Path));
        var (tensors, _) = SafeTensors.Read(path);
        Assert.Equal(state.Tensors.Keys.Order(), tensors.Select(t => t.Name).Order());
        foreach (var tensor in tensors)
        {
            var original = state.Tensors[tensor.Name];
            Assert.Equal(original.Shape, tensor.Shape);
            if (original.Integers is { } integers)
                Assert.Equal(integers[0], tensor.ToInt64());
            else
                Assert.Equal(original.Values, tensor.ToFloats());
        }
    }

    /// <summary>Weights saved before PyTorchVideo's shortcut existed, and every model trained here, keep their bytes.</summary>
    [Fact]
    public void TheShortcutFlagIsLeftOutOfADefaultSavedConfiguration()
    {
        Assert.DoesNotContain(nameof(X3DConfig.StrideOnlyShortcutWithoutNorm), JsonSerializer.Serialize(new X3DConfig { NumClasses = 2 }));
        var flagged = JsonSerializer.Serialize(new X3DConfig { NumClasses = 2, StrideOnlyShortcutWithoutNorm = true });
        Assert.True(JsonSerializer.Deserialize<X3DConfig>(flagged)!.StrideOnlyShortcutWithoutNorm);
    }

    [Fact]
    public void ExportRefusesANameSetThatCannotHoldTheModel()
    {
        var state = PyTorchCheckpoint.Read(Fixture("pytorchvideo.zip.pth"));
        using var model = new X3D(UpstreamX3D.InferConfig(state, UpstreamNames.PyTorchVideo, new X3DConfig { NumClasses = 1 }), backend, seed: 5);
        var error = Assert.Throws<CheckpointFormatException>(() => PretrainedWeights.Export(model, UpstreamNames.MMAction2, "w.safetensors"));
        Assert.Contains("pytorchvideo names", error.Message);
    }

    [Fact]
    public void AnotherClassCountReinitializesTheClassifierAndSaysSo()
    {
        var state = PyTorchCheckpoint.Read(Fixture("mmaction2.legacy.pth"));
        using var model = new X3D(UpstreamX3D.InferConfig(state, UpstreamNames.MMAction2, new X3DConfig { NumClasses = 1 }, numClasses: 3), backend, seed: 5);
        var initial = model.Parameters["fc2.weight"].Value.ToArray();
        var report = PretrainedWeights.Load(state, UpstreamNames.MMAction2, model);
        Assert.Equal(["cls_head.fc2.bias", "cls_head.fc2.weight"], report.Reinitialized.Select(r => r.Key).Order());
        Assert.Contains("5 classes", report.Reinitialized[0].Reason);
        Assert.Equal(initial, model.Parameters["fc2.weight"].Value.ToArray());
        Assert.Equal(state.Tensors["cls_head.fc1.weight"].Values, model.Parameters["fc1.weight"].Value.ToArray());
    }

    [Fact]
    public void ANetworkTensorWithoutAPlaceIsRefused()
    {
        var state = PyTorchCheckpoint.Read(Fixture("mmaction2.zip.pth"));
        var stem = state.Tensors["backbone.conv1_t.bn.weight"];
        var variant = state with { Tensors = new Dictionary<string, TorchTensor>(state.Tensors) { ["backbone.conv1_s.bn.weight"] = stem } };
        using var model = new X3D(UpstreamX3D.InferConfig(variant, UpstreamNames.MMAction2, new X3DConfig { NumClasses = 1 }), backend, seed: 5);
        var error = Assert.Throws<CheckpointFormatException>(() => PretrainedWeights.Load(variant, UpstreamNames.MMAction2, model));
        Assert.Contains("backbone.conv1_s.bn.weight has no place", error.Message);
    }

    [Theory]
    [InlineData("evil_os_system.zip.pth", "os.system")]
    [InlineData("evil_eval.legacy.pth", "builtins.eval")]
    public void AForbiddenGlobalIsRefusedByNameAndNeverRun(string file, string global)
    {
        var error = Assert.Throws<CheckpointFormatException>(() => PyTorchCheckpoint.Read(Fixture(file)));
        Assert.Contains(global, error.Message);
        Assert.Contains(file, error.Message);
        Assert.False(File.Exists("/tmp/actionkit-pwned"));
    }

    [Fact]
    public void ATruncatedOrCorruptZipIsRefused()
    {
        var bytes = File.ReadAllBytes(Fixture("mmaction2.zip.pth"));
        string truncated = Path.Combine(folder, "truncated.pth");
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);
        var error = Assert.Throws<CheckpointFormatException>(() => PyTorchCheckpoint.Read(truncated));
        Assert.Contains("truncated.pth", error.Message);
        Assert.Contains("zip", error.Message);

        string corrupt = Path.Combine(folder, "corrupt.pth");
        var garbled = (byte[])bytes.Clone();
        for (int i = bytes.Length - 200; i < bytes.Length - 30; i++)
            garbled[i] ^= 0x5A; // the central directory
        File.WriteAllBytes(corrupt, garbled);
        Assert.Contains("corrupt.pth", Assert.Throws<CheckpointFormatException>(() => PyTorchCheckpoint.Read(corrupt)).Message);
    }

    [Fact]
    public void AStorageShorterThanItsTensorIsRefusedNamingTheTensor()
    {
        string path = Path.Combine(folder, "short.pth");
        File.Copy(Fixture("layouts.zip.pth"), path);
        string victim;
        using (var archive = ZipFile.Open(path, ZipArchiveMode.Update))
        {
            var entry = archive.Entries.First(e => e.FullName.Contains("/data/", StringComparison.Ordinal));
            victim = entry.FullName;
            var data = new byte[entry.Length];
            using (var stream = entry.Open())
                stream.ReadExactly(data);
            entry.Delete();
            using var replaced = archive.CreateEntry(victim, CompressionLevel.NoCompression).Open();
            replaced.Write(data, 0, data.Length / 2);
        }
        var error = Assert.Throws<CheckpointFormatException>(() => PyTorchCheckpoint.Read(path));
        Assert.Contains("short.pth", error.Message);
        Assert.Contains("storage", error.Message);
    }

    [Fact]
    public void AResNetCheckpointIsNotTakenForAnX3D()
    {
        var state = PyTorchCheckpoint.Read(Fixture("resnet.zip.pth"));
        var error = Assert.Throws<CheckpointFormatException>(() => UpstreamX3D.Detect(state));
        Assert.Contains("backbone.conv1_s.conv.weight", error.Message);
        Assert.Contains("resnet.zip.pth", error.Message);
    }
}
