using ActionKit.Engine.Checkpoints;
using ActionKit.Engine.Models;
using ActionKit.Engine.Optimization;

namespace ActionKit.Engine.Tests;

public sealed class CheckpointTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("actionkit-ckpt-").FullName;
    readonly CpuBackend backend = new();

    public void Dispose() => Directory.Delete(folder, recursive: true);

    string File(string name) => Path.Combine(folder, name);

    [Fact]
    public void WeightsRoundTripWithConfigAndCounters()
    {
        using var model = new X3D(X3DTests.Tiny(), backend, seed: 1);
        model.Parameters.Counters[0].Value = 17;
        ModelCheckpoint.SaveWeights(File("w.safetensors"), model, new Dictionary<string, string> { ["template"] = "X3D-CPU" });
        var config = ModelCheckpoint.ReadConfig(File("w.safetensors"));
        Assert.Equal(X3DTests.Tiny().Widths, config.Widths);
        using var copy = new X3D(config, backend, seed: 2);
        var metadata = ModelCheckpoint.LoadWeights(File("w.safetensors"), copy);
        Assert.Equal("X3D-CPU", metadata["template"]);
        Assert.Equal(model.Parameters.TrainableValues.ToArray(), copy.Parameters.TrainableValues.ToArray());
        Assert.Equal(17, copy.Parameters.Counters[0].Value);
        foreach (var p in model.Parameters.Parameters)
            Assert.Equal(p.Value.ToArray(), copy.Parameters[p.Name].Value.ToArray());
    }

    [Fact]
    public void TrainingStateRestoresTheOptimizer()
    {
        using var model = new X3D(X3DTests.Tiny(), backend, seed: 1);
        using var optimizer = new AdamW(model.Parameters);
        model.Parameters.Gradients.CopyFrom(GradientCheck.RandomValues(model.Parameters.TrainableCount, 3));
        optimizer.Step(0.1f);
        ModelCheckpoint.SaveTrainingState(File("last.ckpt"), model, optimizer, new Dictionary<string, string> { ["epoch"] = "1" });
        using var copy = new X3D(X3DTests.Tiny(), backend, seed: 2);
        using var copyOptimizer = new AdamW(copy.Parameters);
        var metadata = ModelCheckpoint.LoadTrainingState(File("last.ckpt"), copy, copyOptimizer);
        Assert.Equal("1", metadata["epoch"]);
        Assert.Equal(1, copyOptimizer.StepCount);
        Assert.Equal(optimizer.State["exp_avg_sq"].ToArray(), copyOptimizer.State["exp_avg_sq"].ToArray());
    }

    [Fact]
    public void AWrongShapeNamesTheDifference()
    {
        using var model = new X3D(X3DTests.Tiny(3), backend, seed: 1);
        ModelCheckpoint.SaveWeights(File("w.safetensors"), model);
        using var other = new X3D(X3DTests.Tiny(5), backend, seed: 1);
        var error = Assert.Throws<CheckpointFormatException>(() => ModelCheckpoint.LoadWeights(File("w.safetensors"), other));
        Assert.Contains("fc2.weight", error.Message);
        Assert.Contains("[3, 16]", error.Message);
        Assert.Contains(File("w.safetensors"), error.Message);
    }

    [Fact]
    public void TruncatedAndCorruptFilesGiveClearErrors()
    {
        using var model = new X3D(X3DTests.Tiny(), backend, seed: 1);
        ModelCheckpoint.SaveWeights(File("w.safetensors"), model);
        var bytes = System.IO.File.ReadAllBytes(File("w.safetensors"));

        System.IO.File.WriteAllBytes(File("truncated.safetensors"), bytes[..(bytes.Length - 100)]);
        Assert.Contains("truncated", Assert.Throws<CheckpointFormatException>(() => SafeTensors.Read(File("truncated.safetensors"))).Message);

        System.IO.File.WriteAllBytes(File("tiny.safetensors"), bytes[..5]);
        Assert.Contains("truncated", Assert.Throws<CheckpointFormatException>(() => SafeTensors.Read(File("tiny.safetensors"))).Message);

        var corrupt = (byte[])bytes.Clone();
        corrupt[8] = (byte)'#';
        System.IO.File.WriteAllBytes(File("corrupt.safetensors"), corrupt);
        Assert.Contains("JSON", Assert.Throws<CheckpointFormatException>(() => SafeTensors.Read(File("corrupt.safetensors"))).Message);

        Assert.Contains("not found", Assert.Throws<CheckpointFormatException>(() => SafeTensors.Read(File("missing.safetensors"))).Message);
    }

    [Fact]
    public void HeaderFollowsTheSafetensorsLayout()
    {
        SafeTensors.Write(File("s.safetensors"), [SafeTensor.FromFloats("a", [2], [1f, 2f]), SafeTensor.FromInt64("n", 7)],
            new Dictionary<string, string> { ["k"] = "v" });
        var bytes = System.IO.File.ReadAllBytes(File("s.safetensors"));
        long headerLength = BitConverter.ToInt64(bytes, 0);
        Assert.Equal(0, headerLength % 8);
        string header = System.Text.Encoding.UTF8.GetString(bytes, 8, (int)headerLength);
        Assert.Contains("\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}", header);
        Assert.Contains("\"n\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[8,16]}", header);
        Assert.Equal(8 + headerLength + 16, bytes.Length);
        Assert.Equal(1f, BitConverter.ToSingle(bytes, 8 + (int)headerLength));
    }
}
